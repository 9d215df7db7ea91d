"""Predicting a student's accuracy after distillation without training it (DaSS-style): the
architecture encoding, teacher and student probes, the models, and the predictor that combines
them."""

from .encoding import ARCH_PARTS, encode_architecture
from .models import Example, NeuralPredictor, Predictor, ProxyPredictor, TreePredictor
from .predictor import LABELS, PARTS, KDPredictor
from .probes import EMBEDDING_IMAGES, PROBE_FIELDS, student_probe, synflow, teacher_embedding

__all__ = ["ARCH_PARTS", "EMBEDDING_IMAGES", "Example", "KDPredictor", "LABELS", "NeuralPredictor", "PARTS",
           "PROBE_FIELDS", "Predictor", "ProxyPredictor", "TreePredictor", "encode_architecture",
           "student_probe", "synflow", "teacher_embedding"]
