"""Pure tensor operations of UnLoc, free of model state: ``segments`` (tIoU, seconds <-> sampled-frame units, pyramid
points), ``assign`` (label assignment), ``losses`` (focal / BCE / box losses with the official normalisation),
``decode`` (displacements <-> seconds) and ``nms`` (batched Soft-NMS in plain torch)."""
