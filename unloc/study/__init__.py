"""The study: the machinery of our reproducible UnLoc study on the mini-world, beside the `unloc` library.

The library (`unloc.*` outside this package) never imports it (import-linter contracts in `make lint`). Here live
the mini-world generator (`miniworld`), the two-tower stand-in for CLIP (`clip`), the stage runner the notebooks call
(`stages`), trivial baselines (`baselines`), qualitative examples (`examples`), a stage's metrics file (`metrics`),
per-stage figures (`figures`) and the report's tables, effects and verdicts (`report`). Importing this package imports
none of them, so each DVC stage depends on exactly the modules its notebook imports. Its command line:
`python -m unloc.study generate ...`.
"""
