"""Data: read image folders/zips once, then draw random crops for training."""

from .crops import CropSampler
from .ingest import DatasetError, IngestResult, crop_short_side, ingest

__all__ = ["CropSampler", "DatasetError", "IngestResult", "crop_short_side", "ingest"]
