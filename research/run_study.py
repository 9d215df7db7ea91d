"""The study: does searching with the teacher find students that learn more from it?

Runs every part of the study (research/studies/study.py): twin searches with two teachers and two
seeds each, a probe that chooses the final budget, the final stage with the AKD paper's 2x2 table
and gain over 5 seeds, and the strategies (lstm_ppo, with screening, autokd, random) side by side;
then writes study.json, study.md and its figures into --out. Killed, the same command resumes.
With --keep DIR the result is kept in the repository: the files every number comes from under
DIR/results, and the document and figures recomputed from them in DIR.

    python -m research.run_study                              # 2.4 hours on 2 cores
    python -m research.run_study --keep docs/study            # and keep it in the repository
    python -m research.run_study --config research/presets/study/tiny.yaml --out runs/study_tiny
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from akd.common import run_command
from research import PRESETS
from research.common import add_output_options
from research.studies.study import keep, load_study, run_study, summarize
from research.studies.study_report import write_document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="--set study.KEY=VALUE sets the study's own options "
                                            "(study: in the preset); any other key the searches' "
                                            "config")
    parser.add_argument("--config", default=str(PRESETS / "study" / "default.yaml"),
                        help="study preset: a run config with a study: section")
    add_output_options(parser, "runs/study")
    parser.add_argument("--keep", metavar="DIR",
                        help="also keep the result in DIR (e.g. docs/study)")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "-m", "research.run_study",
                          *(argv if argv is not None else sys.argv[1:])])

    def work() -> None:
        config, options = load_study(args.config, args.set)
        out = Path(args.out)
        summary = run_study(config, options, out)
        print(f"study document: {write_document(summary, out, command)}")
        if args.keep:
            results = keep(out, Path(args.keep), command)
            kept = write_document(summarize(results), Path(args.keep), command)
            print(f"kept: {kept} (the result files in {results})")
    return run_command(work, interrupted="rerun the same command: finished parts are read "
                       "back, the one in progress resumes")


if __name__ == "__main__":
    sys.exit(main())
