"""`python -m bench`: run the benchmarks."""

from bench.cardguard import main

main()
