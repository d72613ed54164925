"""FundingHarvester: hold the side of a perpetual that receives funding through settlements."""

from .predict import Prediction, next_settlement, on_grid, predict
from .strategy import FundingHarvester, FundingHarvesterConfig

__all__ = ["FundingHarvester", "FundingHarvesterConfig", "Prediction", "next_settlement",
           "on_grid", "predict"]
__version__ = "0.1.0"
