"""The LSTM controller trained by policy gradient: REINFORCE (NAS, ENAS) and PPO (NASNet, MnasNet).

Learning happens in batches of ``batch_size`` (M) told candidates, whatever order they come in:
each tell files its result, and the M-th triggers one update on those M, sorted by id so the
update does not depend on arrival order. Candidates told after an update that were asked before
it are *stale* (sampled by an older policy). REINFORCE scores them under the current policy, as
asynchronous NAS (Zoph & Le 2017) did with stale replicas; PPO divides by the probability they
had when asked (``Candidate.log_prob``), so the clipped ratio corrects and bounds the staleness,
which is what PPO is for.

Advantages are reward minus an exponential moving average of past rewards (the baseline, updated
per reward after each batch, so it never depends on the batch it scores; the first batch uses its
own mean). Optionally they are then normalised to zero mean and unit std over the batch; a batch
of equal rewards (all candidates failed, say) then gives zero advantages, not a division by zero.
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass

import torch

from .base import Candidate, Controller, PolicyReadout, check_option, is_int, is_number
from .lstm import LSTMPolicy, Rollout
from .registry import register_controller

READOUT_SEED = 0  # the readout draws from its own generator so it never shifts the asked stream


def single_threaded(method):
    """Run ``method`` with one torch thread, then restore the process's setting.

    The controller's tensors are tiny, so intra-op threads only add synchronisation: on a loaded
    2-core machine they made sampling and updates 3x slower. The setting is process-wide, hence
    restored at once (it costs about a microsecond).
    """
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return method(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)
    return wrapper


@dataclass
class ReinforceConfig:
    # Zoph et al. 2018 (NASNet, appendix A) and Pham et al. 2018 (ENAS): one-layer LSTM, 100 units
    hidden_size: int = 100
    # Adam step size. ENAS's CIFAR scripts use 1e-3 (macro) / 3.5e-3 (micro), NASNet 3.5e-4 over
    # ~20k samples; akd searches see hundreds, and of these values 3.5e-3 learned best on the
    # synthetic benchmark (1e-2 collapses early, 1e-3 is too slow for 400 samples).
    lr: float = 3.5e-3
    batch_size: int = 8  # M architectures per update: Zoph & Le 2017 (m = 8 per controller replica)
    baseline_decay: float = 0.95  # EMA of past rewards: NASNet 0.95 (ENAS 0.99)
    entropy_weight: float = 1e-4  # bonus on the sequence entropy: ENAS 1e-4 (NASNet 1e-5)
    temperature: float = 1.0  # logits / temperature; ENAS's CIFAR search uses none (1.0)
    # logits -> c * tanh(logits): ENAS's macro search uses 1.5 (micro 1.1); None turns it off
    tanh_constant: float | None = 1.5
    normalize_advantage: bool = False  # Zoph & Le / ENAS use the raw reward - baseline
    init_range: float = 0.1  # weights uniform in [-init_range, init_range]: NASNet / ENAS

    def __post_init__(self) -> None:
        for field, minimum in (("hidden_size", 1), ("batch_size", 1)):
            value = getattr(self, field)
            check_option(is_int(value) and value >= minimum, field, value,
                         f"an integer >= {minimum}")
        for field in ("lr", "temperature", "init_range"):
            value = getattr(self, field)
            check_option(is_number(value) and value > 0, field, value, "a number > 0")
        check_option(is_number(self.baseline_decay) and 0 <= self.baseline_decay < 1,
                     "baseline_decay", self.baseline_decay, "a number in [0, 1)")
        check_option(is_number(self.entropy_weight) and self.entropy_weight >= 0,
                     "entropy_weight", self.entropy_weight, "a number >= 0")
        clipping_ok = self.tanh_constant is None or (is_number(self.tanh_constant)
                                                     and self.tanh_constant > 0)
        check_option(clipping_ok, "tanh_constant", self.tanh_constant,
                     "a number > 0, or None for no clipping")
        check_option(isinstance(self.normalize_advantage, bool), "normalize_advantage",
                     self.normalize_advantage, "true or false")


@dataclass
class PPOConfig(ReinforceConfig):
    # ENAS's macro-search value; PPO takes ppo_epochs steps per batch, so it wants a smaller step
    # than REINFORCE (3.5e-3 was worse on the synthetic benchmark)
    lr: float = 1e-3
    entropy_weight: float = 1e-5  # NASNet, which trained its controller with PPO
    normalize_advantage: bool = True  # cleanrl's ppo.py and OpenAI baselines normalise for PPO
    ppo_clip: float = 0.2  # ratio clipped to [1 - clip, 1 + clip]: Schulman et al. 2017
    ppo_epochs: int = 4  # gradient steps on each batch: cleanrl's ppo.py (update_epochs = 4)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_option(is_number(self.ppo_clip) and 0 < self.ppo_clip < 1, "ppo_clip",
                     self.ppo_clip, "a number in (0, 1)")
        check_option(is_int(self.ppo_epochs) and self.ppo_epochs >= 1, "ppo_epochs",
                     self.ppo_epochs, "an integer >= 1")


@register_controller("lstm_reinforce")
class ReinforceController(Controller):
    Config = ReinforceConfig

    def __init__(self, choices, seed: int = 0, **options) -> None:
        super().__init__(choices, seed, **options)
        cfg = self.config
        self.generator = torch.Generator().manual_seed(seed)
        self.policy = LSTMPolicy(self.choices, cfg.hidden_size, cfg.temperature, cfg.tanh_constant,
                                 cfg.init_range, self.generator)
        self.optimizer = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.baseline: float | None = None
        self.updates = 0
        self._told: list[tuple[Candidate, float]] = []  # results waiting for the next update

    @single_threaded
    def _propose(self, n: int) -> list[tuple[list[int], float]]:
        with torch.no_grad():
            rollout = self.policy.sample(n, self.generator)
        return [(a.tolist(), float(lp)) for a, lp in zip(rollout.actions, rollout.log_prob)]

    @single_threaded
    def _learn(self, candidate: Candidate, reward: float) -> dict[str, float]:
        self._told.append((candidate, reward))
        if len(self._told) < self.config.batch_size:
            return {}
        told = sorted(self._told, key=lambda item: item[0].id)
        self._told = []
        actions = torch.tensor([c.decisions for c, _ in told])
        old_log_prob = torch.tensor([c.log_prob for c, _ in told])
        rewards = torch.tensor([r for _, r in told], dtype=torch.float64)
        baseline = self._advance_baseline(rewards)
        advantage = (rewards - baseline).float()
        if self.config.normalize_advantage:
            advantage = (advantage - advantage.mean()) / (advantage.std(correction=0) + 1e-8)
        stats = self._update(actions, advantage, old_log_prob)
        self.updates += 1
        return {**stats, "baseline": baseline, "reward_mean": float(rewards.mean()),
                "updates": self.updates}

    def _advance_baseline(self, rewards: torch.Tensor) -> float:
        """The baseline for this batch; then fold the batch's rewards into the moving average."""
        baseline = float(rewards.mean()) if self.baseline is None else self.baseline
        ema, decay = baseline, self.config.baseline_decay
        for reward in rewards.tolist():
            ema = decay * ema + (1 - decay) * reward
        self.baseline = ema
        return baseline

    def _update(self, actions: torch.Tensor, advantage: torch.Tensor,
                old_log_prob: torch.Tensor) -> dict[str, float]:
        # stale or not, every candidate is scored by the current policy; old_log_prob is PPO's
        rollout = self.policy.score(actions)
        pg_loss = -(advantage * rollout.log_prob).mean()
        return self._step(pg_loss, rollout)

    def _step(self, pg_loss: torch.Tensor, rollout: Rollout) -> dict[str, float]:
        """One Adam step on the policy-gradient loss minus the entropy bonus."""
        entropy = rollout.entropy.mean()
        loss = pg_loss - self.config.entropy_weight * entropy
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"pg_loss": pg_loss.item(), "entropy": entropy.item()}

    @single_threaded
    def readout(self, samples: int = 1000) -> PolicyReadout:
        """The policy's marginals, greedy architecture and entropy, from ``samples`` draws."""
        if not is_int(samples) or samples < 1:
            raise ValueError(f"readout(samples): samples = {samples!r} is invalid; allowed: an "
                             "integer >= 1")
        with torch.no_grad():
            rollout = self.policy.sample(samples, torch.Generator().manual_seed(READOUT_SEED))
            greedy = self.policy.greedy()
        # averaging each step's distribution over sampled prefixes estimates the marginal with
        # less noise than counting the sampled choices
        return PolicyReadout(
            marginals=[rollout.probs[:, t, :n].mean(0).tolist()
                       for t, n in enumerate(self.choices)],
            greedy=greedy.actions[0].tolist(),
            greedy_prob=math.exp(float(greedy.log_prob[0])),
            entropy=float(rollout.entropy.mean()),
            max_entropy=sum(math.log(n) for n in self.choices),
        )

    def _extra_state(self) -> dict:
        # copies: torch's state dicts share memory with the live tensors, and a saved state must
        # stay a snapshot while the search goes on (the tensors are tiny)
        return {
            "policy": copy.deepcopy(self.policy.state_dict()),
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),
            "baseline": self.baseline,
            "updates": self.updates,
            "told": [[c.id, c.decisions, c.log_prob, r] for c, r in self._told],
            "rng": self.generator.get_state(),
        }

    def _load_extra_state(self, state: dict) -> None:
        told = [(Candidate(int(i), list(d), lp), float(r)) for i, d, lp, r in state["told"]]
        try:
            self.policy.load_state_dict(state["policy"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.generator.set_state(state["rng"])
        except (RuntimeError, ValueError) as err:  # torch's words for shape / layout mismatches
            raise TypeError(f"bad policy, optimizer or rng state: {err}") from err
        self.baseline = state["baseline"]
        self.updates = int(state["updates"])
        self._told = told


@register_controller("lstm_ppo")
class PPOController(ReinforceController):
    """The same policy and batches; several clipped-ratio steps per batch instead of one."""

    Config = PPOConfig

    def _update(self, actions: torch.Tensor, advantage: torch.Tensor,
                old_log_prob: torch.Tensor) -> dict[str, float]:
        clip = self.config.ppo_clip
        for _ in range(self.config.ppo_epochs):
            rollout = self.policy.score(actions)
            ratio = (rollout.log_prob - old_log_prob).exp()
            pg_loss = -torch.min(ratio * advantage,
                                 ratio.clamp(1 - clip, 1 + clip) * advantage).mean()
            stats = self._step(pg_loss, rollout)
        # of the last epoch: how far the policy moved from the one that asked
        stats["clip_fraction"] = float(((ratio - 1).abs() > clip).float().mean())
        return stats
