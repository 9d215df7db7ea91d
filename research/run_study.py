"""The study, with the search as the unit: does searching with the teacher find students that
learn more from it, and do they beat hand design?

Runs every part of the study (research/studies/study.py) into --out: 8 twin searches (akd with
the vgg teacher, nas with labels only), 3 akd searches with resnet, 3 searches by each of tpe,
autokd and random; every winner and the hand-designed students re-timed in one sitting; the
winners and the nearest hand-designed students retrained at the ladder's top budget; then
study.json, study.md and its figures. Killed, the same command resumes. With --keep DIR the
result is kept in the repository: the files every number comes from under DIR/results, and the
document and figures recomputed from them in DIR.

    python -m research.run_study                              # about 4 hours on 2 cores
    python -m research.run_study --keep docs/study            # and keep it in the repository
    python -m research.run_study --report-only docs/study     # the document from kept files
    python -m research.run_study --config research/presets/study/tiny.yaml --out runs/study_tiny
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from akd.common import run_command, write_json
from akd.errors import RunError
from research import PRESETS
from research.common import add_output_options, command_line
from research.studies.study import keep, kept_command, load_study, run_study
from research.studies.study_report import write_document
from research.studies.study_stats import summarize


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
    parser.add_argument("--report-only", metavar="DIR",
                        help="only write the document of the study kept in DIR (its results/)")
    args = parser.parse_args(argv)
    command = command_line("research.run_study", argv)

    def work() -> None:
        if args.report_only:
            kept = Path(args.report_only)
            results = kept / "results"
            if not (results / "command.txt").is_file():
                raise RunError(f"{kept} holds no kept study (no results/command.txt); keep one "
                               "with --keep first")
            print(f"study document: "
                  f"{write_document(summarize(results), kept, kept_command(results))}")
            return
        config, options = load_study(args.config, args.set)
        out = run_study(config, options, Path(args.out))
        summary = summarize(out)
        write_json(out / "study.json", summary)
        print(f"study document: {write_document(summary, out, command)}")
        if args.keep:
            results = keep(out, Path(args.keep), command)
            kept = write_document(summarize(results), Path(args.keep), command)
            print(f"kept: {kept} (the result files in {results})")
    return run_command(work, interrupted="rerun the same command: finished parts are read "
                       "back, the one in progress resumes")


if __name__ == "__main__":
    sys.exit(main())
