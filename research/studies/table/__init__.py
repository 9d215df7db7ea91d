"""The distillation-aware benchmark table: a pool of students (:mod:`.pool`), each trained with
labels only and with KD from several teachers over seeds (:mod:`.build`), and what the table
answers (:mod:`.analysis`, :mod:`.report`); the ladder table, the same students at a ladder of
budgets (:mod:`.ladder`, :mod:`.ladder_analysis`, :mod:`.ladder_report`). The format and loaders
are :mod:`akd.tables`'s."""

from akd.tables import LABELS, Table, load_table, save_table

__all__ = ["LABELS", "Table", "load_table", "save_table"]
