"""haws benchmarks: figures side by side with baselines measured in the same run.

``python -m bench`` (``make bench``) starts every server it needs, pins them to
one core and the load generator to another, runs the scenarios and prints one
table. Nothing here asserts: a benchmark reports, the issue's targets are judged
in the table and in ``docs/performance.md``.
"""
