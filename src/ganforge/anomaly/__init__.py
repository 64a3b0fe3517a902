"""Anomaly detection with GANs trained on normal data only: scores, residual maps, protocol metrics.

``scoring`` turns a trained run into a per-image score and residual map (AnoGAN's latent
search on any noise-to-image run, f-AnoGAN's encoder, GANomaly's code distance);
``evaluation`` measures them on a protocol's test split with a threshold fixed on its
normal-only validation split; ``maps`` writes the residual maps as PNG overlays. The
protocols themselves are datasets (:mod:`ganforge.data.anomaly_protocols`); the models are
recipes (:mod:`ganforge.recipes.fanogan`, :mod:`ganforge.recipes.ganomaly`).
"""

from ganforge.anomaly.evaluation import detection_metrics, evaluate, format_table
from ganforge.anomaly.maps import overlay, save_overlays, save_residual_figure
from ganforge.anomaly.scoring import METHODS, AnomalyError, Scorer, Scores, check_images, default_method, scorer

__all__ = ["METHODS", "AnomalyError", "Scorer", "Scores", "check_images", "default_method", "detection_metrics",
           "evaluate", "format_table", "overlay", "save_overlays", "save_residual_figure", "scorer"]
