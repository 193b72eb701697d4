"""The generator's MLflow models-from-code entry (see ``tracking/model_code.py``): MLflow runs
this file when it loads the model; nothing else imports it."""

from mlflow.models import set_model

from fitting_room.gan.mlflow_model import GeneratorModel

set_model(GeneratorModel())
