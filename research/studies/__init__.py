"""The research's code, on akd's public API: the study (:mod:`.study`, :mod:`.study_report`),
the benchmark and ladder tables (:mod:`.table`), the predictor, screening and efficiency
benchmarks (:mod:`.predictor_bench`, :mod:`.screening_bench`, :mod:`.efficiency_bench`,
:mod:`.table_efficiency`, :mod:`.curves`) and the architecture-knowledge experiment
(:mod:`.arch_knowledge`)."""
