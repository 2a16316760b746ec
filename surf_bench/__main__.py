"""`python -m surf_bench ...` runs the CLI (as `surf-bench ...`)."""

from surf_bench.cli import main

if __name__ == "__main__":
    main()
