"""unloc: UnLoc (Yan et al., ICCV 2023) in PyTorch."""

__version__ = "0.1.0"
