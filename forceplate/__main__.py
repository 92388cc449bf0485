"""`python -m forceplate`: the same as the `forceplate` console script."""
from .cli import main

if __name__ == "__main__":
    main()
