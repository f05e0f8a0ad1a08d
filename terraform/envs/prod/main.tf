# prod on AWS: a stub that fixes the interface (inputs, outputs, names from topology.yaml) so that
# the same Ansible roles can target it. The resources (VPC, EC2 nodes for Kafka/Spark/ClickHouse,
# the S3 bucket, IAM instance profile) come with AWS modules once the AWS provider is mirrored.

locals {
  topology          = yamldecode(file("${path.module}/../../../runtime/topology.yaml"))
  checkpoint_bucket = coalesce(var.checkpoint_bucket, "${local.topology.object_storage.checkpoint_bucket}-prod")

  plan = {
    environment       = "prod"
    region            = var.region
    kafka_brokers     = var.kafka_broker_count
    kafka_port        = local.topology.kafka.port
    kafka_topics      = local.topology.kafka.topics
    spark_workers     = var.spark_worker_count
    spark_master_port = local.topology.spark.master_port
    clickhouse_port   = local.topology.clickhouse.http_port
    clickhouse_db     = local.topology.clickhouse.database
    checkpoint_bucket = local.checkpoint_bucket
    instance_type     = var.instance_type
  }
}
