"""Reading run directories (:mod:`akd.reporting.analysis`) into report.md, CSV tables and PNG
figures (:mod:`akd.reporting.report`, :mod:`akd.reporting.plots`). Never trains or writes into a
run; never imports the search loop or an evaluator."""
