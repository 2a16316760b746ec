"""Results read back and reported: the one reader of score files (reader), the tables (table, with
the paper's numbers in paper_reference.csv), paired comparisons (compare), per-cell figures
(figures), the static HTML report (report) and the archive of a results root (archive). Nothing
below this package imports it."""
