"""Explanations of a trained SER model: attention export, captum attributions, faithfulness.

- :mod:`.attention`: per-frame, per-head pooling weights and class probabilities;
- :mod:`.attributions`: Integrated Gradients, Saliency and Occlusion with one call shape,
  on the pooler's input features, and ``deep`` IG through the frozen encoder onto the log-mel;
- :mod:`.faithfulness`: deletion / insertion curves, AOPC, attention-gradient agreement and
  the model-randomisation sanity check.
"""

from .attention import attention_weights
from .attributions import METHODS, attribute_frames, attribute_mel
from .faithfulness import deletion_curves, randomization_check

__all__ = ["attention_weights", "attribute_frames", "attribute_mel", "METHODS", "deletion_curves",
           "randomization_check"]
