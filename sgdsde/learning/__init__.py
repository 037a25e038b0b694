"""What SGD learns on: offline classification data sets and the classifiers trained on them
(docs/theory.md §6)."""

from ._data import DATASET_NAMES as DATASET_NAMES
from ._data import Dataset as Dataset
from ._data import check_dataset_options as check_dataset_options
from ._data import load_dataset as load_dataset
from ._data import read_idx as read_idx
from ._models import MLP as MLP
from ._models import MODEL_NAMES as MODEL_NAMES
from ._models import Classifier as Classifier
from ._models import LogisticRegression as LogisticRegression
from ._models import Unflatten as Unflatten
from ._models import accuracy as accuracy
from ._models import flatten_model as flatten_model
from ._models import make_model as make_model
from ._models import per_example_loss as per_example_loss
from ._models import predict_logits as predict_logits

__all__ = [
    "DATASET_NAMES", "MLP", "MODEL_NAMES", "Classifier", "Dataset", "LogisticRegression",
    "Unflatten", "accuracy", "check_dataset_options", "flatten_model", "load_dataset",
    "make_model", "per_example_loss", "predict_logits", "read_idx",
]
