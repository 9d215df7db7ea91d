"""The autoregressive LSTM policy of NASNet / MnasNet / ENAS over a sequence of decisions.

At step 0 the LSTM reads a learned start input; at step t > 0 it reads the embedding of the
choice made at step t-1. Its hidden state goes through the softmax head of decision t. Heads and
embeddings belong to decision *positions*: a controller only knows how many choices each position
has, the same field can have a different number of choices in different blocks (MnasNet's
"layers" offers 2 or 3 counts), and NASNet too gives every prediction its own softmax. Every
(position, choice) pair has its own embedding row, so the fed-back input says which value was
picked, not just its index.

The heads are stored as one weight tensor padded to the largest number of choices, the padding
masked out of the softmax. That lets scoring known sequences (every update) run the LSTM over the
whole sequence in one call, about 4x faster than step by step; sampling has to go step by step,
since each step's input is the previous step's draw.

Logits are divided by ``temperature`` and then, if ``tanh_constant`` is set, squashed to
``tanh_constant * tanh(logits)`` (Bello et al. 2017, used by ENAS): no choice's logit can run
away, which keeps every architecture reachable and slows premature collapse of the policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

# (step, log-probabilities of that step's choices, shape (B, n_max)) -> chosen indices, shape (B,)
Chooser = Callable[[int, torch.Tensor], torch.Tensor]


@dataclass
class Rollout:
    """A batch of decision sequences with what the policy thinks of them."""

    actions: torch.Tensor  # (B, T) long: the chosen index of each decision
    log_prob: torch.Tensor  # (B,): log-probability of each whole sequence
    entropy: torch.Tensor  # (B,): sum over steps of the entropy of each step's distribution
    probs: torch.Tensor  # (B, T, n_max): the distribution of each step, 0 on the padding


class LSTMPolicy(nn.Module):
    def __init__(self, choices: Sequence[int], hidden_size: int, temperature: float,
                 tanh_constant: float | None, init_range: float,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.temperature = temperature
        self.tanh_constant = tanh_constant
        n = torch.tensor(choices)
        self.start = nn.Parameter(torch.empty(1, 1, hidden_size))
        self.lstm = nn.LSTM(hidden_size, hidden_size, batch_first=True)
        # the last choice is never fed back, so it needs no embedding rows
        self.embedding = nn.Embedding(int(n[:-1].sum()), hidden_size)
        self.head_weight = nn.Parameter(torch.empty(len(n), int(n.max()), hidden_size))
        self.head_bias = nn.Parameter(torch.empty(len(n), int(n.max())))
        # buffers, not parameters: fixed by the space, saved with the weights
        # the embedding rows of position t start at offsets[t], for t < T - 1
        self.register_buffer("offsets", torch.cat([n.new_zeros(1), n[:-1].cumsum(0)])[:-1])
        self.register_buffer("padding", torch.arange(int(n.max())) >= n[:, None])
        with torch.no_grad():  # NASNet / ENAS: every weight uniform in [-0.1, 0.1]
            for p in self.parameters():
                p.uniform_(-init_range, init_range, generator=generator)

    def sample(self, batch: int, generator: torch.Generator) -> Rollout:
        return self._unroll(batch, lambda _, logp: torch.multinomial(
            logp.exp(), 1, generator=generator).squeeze(1))

    def greedy(self) -> Rollout:
        """The most likely choice at every step: the usual stand-in for the policy's mode."""
        return self._unroll(1, lambda _, logp: logp.argmax(-1))

    def score(self, actions: torch.Tensor) -> Rollout:
        """Log-probability and entropy of given sequences, with gradients, in one LSTM pass."""
        fed_back = self.embedding(self.offsets + actions[:, :-1])
        inputs = torch.cat([self.start.expand(len(actions), 1, -1), fed_back], dim=1)
        hidden, _ = self.lstm(inputs)
        return self._rollout(actions, self._log_probs(hidden, slice(None)))

    def _unroll(self, batch: int, choose: Chooser) -> Rollout:
        x = self.start[0].expand(batch, -1)
        state = (x.new_zeros(x.shape), x.new_zeros(x.shape))
        # the fused cell op nn.LSTMCell runs, on nn.LSTM's weights: calling nn.LSTM one step at
        # a time costs 4x more
        weights = (self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.lstm.bias_ih_l0,
                   self.lstm.bias_hh_l0)
        actions, log_probs = [], []
        for t in range(len(self.head_weight)):
            state = torch.lstm_cell(x, state, *weights)
            log_probs.append(self._log_probs(state[0][:, None], slice(t, t + 1)))
            actions.append(choose(t, log_probs[-1][:, 0]))
            if t < len(self.offsets):
                x = self.embedding(self.offsets[t] + actions[-1])
        return self._rollout(torch.stack(actions, 1), torch.cat(log_probs, 1))

    def _log_probs(self, hidden: torch.Tensor, steps: slice) -> torch.Tensor:
        """(B, S, n_max) log-probabilities of the steps ``steps`` from their hidden states."""
        logits = torch.einsum("bsh,snh->bsn", hidden, self.head_weight[steps])
        logits = (logits + self.head_bias[steps]) / self.temperature
        if self.tanh_constant is not None:
            logits = self.tanh_constant * torch.tanh(logits)
        return F.log_softmax(logits.masked_fill(self.padding[steps], float("-inf")), dim=-1)

    def _rollout(self, actions: torch.Tensor, log_probs: torch.Tensor) -> Rollout:
        probs = log_probs.exp()
        # padding has probability 0 and log-probability -inf; its entropy term is 0, not nan
        entropy = -(probs * log_probs.masked_fill(self.padding, 0.0)).sum((1, 2))
        chosen = log_probs.gather(2, actions[:, :, None]).squeeze(2)
        return Rollout(actions, chosen.sum(1), entropy, probs)
