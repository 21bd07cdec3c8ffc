"""Batch scoring on Dask: ``kedro run --pipelines inference_dask``.

The same scoring as the ``inference`` pipeline, for inputs too large for one process: the
texts (``dask_instances``: CSV or Parquet, local or ``s3://``) are read in partitions by the
workers of a Dask cluster, each worker scores its partitions with the registry's champion,
and the predictions are written as partitioned Parquet (``dask_predictions``), published only
when every partition succeeded. Rows that cannot be scored go to ``dask_prediction_rejects``.
"""

from kedro.pipeline import Node, Pipeline

from sentiment_mlops.pipelines.inference_dask.nodes import score_partitions


def create_pipeline(**kwargs) -> Pipeline:
    """Score ``dask_instances`` with ``champion_model``; set the rows it cannot score aside."""
    return Pipeline(
        [
            Node(
                score_partitions,
                inputs={"sentiment_model": "champion_model", "instances": "dask_instances"},
                # In this order: the rejects are written only once the predictions are.
                outputs=["dask_predictions", "dask_prediction_rejects"],
                name="score_partitions",
            ),
        ],
        tags="inference_dask",
    )
