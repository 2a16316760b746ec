"""Many cells: a params file expanded into a plan of cells (plan), the grid launched as jobs
(launch), the DVC pipeline's changed stages launched N at a time (launch_pipeline), Optuna studies
over variant cells (tune) and the pipeline's optional tune stage (tune_stage)."""
