"""The shopping guide's MLflow models-from-code entry (see ``tracking/model_code.py``): MLflow
runs this file when it loads the model; nothing else imports it."""

from mlflow.models import set_model

from fitting_room.recommender.mlflow_models import GuideModel

set_model(GuideModel())
