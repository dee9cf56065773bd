"""The lab's analytics pipeline on AWS, deployed and removed as code with boto3.

`python -m pipeline.aws deploy|destroy|status [--dry-run]` (or `make pipeline TARGET=aws`) creates the data-lake
bucket, the Firehose delivery stream, the two IoT topic rules, the cold-readings DynamoDB table, the Glue database
and crawler, and the Athena workgroup with its results bucket and the lab's named queries. What it creates is
recorded in a state file (`.fleet/pipeline-aws.json` by default) so that `destroy` removes exactly that.
"""

from pipeline.aws.errors import PipelineAwsError
from pipeline.aws.settings import PipelineAwsSettings

__all__ = ["PipelineAwsError", "PipelineAwsSettings"]
