# The whole pipeline on the local Docker engine: 3 Kafka brokers, a Spark master + 2 workers,
# ClickHouse, LocalStack (S3) and the app container the deploy (ansible/deploy.yml) configures.
# Names and ports come from topology.yaml and image names from docker/images.env: defined once.

locals {
  repo_root  = abspath("${path.module}/../../..")
  topology   = yamldecode(file("${local.repo_root}/runtime/topology.yaml"))
  images_env = file("${local.repo_root}/docker/images.env")

  # docker/images.env lines are NAME=${NAME:-default}; read the defaults, let variables win.
  image_prefix = coalesce(var.image_prefix, one(regex("IMAGE_PREFIX=\\$\\{IMAGE_PREFIX:-([^}]+)\\}", local.images_env)))
  image_tag    = coalesce(var.image_tag, one(regex("IMAGE_TAG=\\$\\{IMAGE_TAG:-([^}]+)\\}", local.images_env)))
  images = {
    kafka      = "${local.image_prefix}/kafka:${local.image_tag}"
    spark      = "${local.image_prefix}/spark:${local.image_tag}"
    app        = "${local.image_prefix}/app:${local.image_tag}"
    localstack = "${local.image_prefix}/localstack:${local.image_tag}"
    clickhouse = coalesce(var.clickhouse_image, "${local.image_prefix}/clickhouse-endpoint:${local.image_tag}")
  }

  host   = local.topology.host
  kafka  = local.topology.kafka
  spark  = local.topology.spark
  ch     = local.topology.clickhouse
  s3     = local.topology.object_storage
  offset = var.host_port_offset

  labels = {
    "com.cryptostream.stack"      = var.name_prefix
    "com.cryptostream.managed-by" = "opentofu"
  }
  output_dir = coalesce(var.output_dir, "${path.module}/generated")
}

module "network" {
  source = "../../modules/network"
  name   = var.name_prefix
  labels = local.labels
}

module "kafka" {
  source          = "../../modules/kafka"
  name_prefix     = var.name_prefix
  network_name    = module.network.name
  image           = local.images.kafka
  broker_count    = var.kafka_broker_count
  partitions      = local.kafka.partitions
  client_port     = local.kafka.port
  controller_port = local.kafka.controller_port
  host_ports      = [for i in range(var.kafka_broker_count) : local.kafka.port + local.offset + i]
  host_address    = local.host
  heap            = var.kafka_heap
  memory_mb       = var.kafka_memory_mb
  labels          = local.labels
}

module "spark" {
  source                     = "../../modules/spark"
  name_prefix                = var.name_prefix
  network_name               = module.network.name
  image                      = local.images.spark
  worker_count               = var.spark_worker_count
  worker_cores               = var.spark_worker_cores
  worker_memory              = var.spark_worker_memory
  worker_container_memory_mb = var.spark_worker_container_memory_mb
  master_port                = local.spark.master_port
  master_ui_port             = local.spark.master_ui_port
  worker_ui_port             = local.spark.worker_ui_port
  master_ui_host_port        = local.spark.master_ui_port + local.offset
  host_address               = local.host
  labels                     = local.labels
}

module "clickhouse" {
  source       = "../../modules/clickhouse"
  name_prefix  = var.name_prefix
  network_name = module.network.name
  image        = local.images.clickhouse
  user         = local.ch.user
  password     = var.clickhouse_password
  database     = local.ch.database
  http_port    = local.ch.http_port
  host_port    = local.ch.http_port + local.offset
  host_address = local.host
  memory_mb    = var.clickhouse_memory_mb
  healthcheck_command = ["CMD", "wget", "-q", "-O", "/dev/null",
  "http://127.0.0.1:${local.ch.http_port}/ping"]
  labels = local.labels
}

module "object_storage" {
  source       = "../../modules/object_storage"
  name_prefix  = var.name_prefix
  network_name = module.network.name
  image        = local.images.localstack
  port         = local.s3.port
  host_port    = local.s3.port + local.offset
  host_address = local.host
  region       = local.s3.region
  bucket       = local.s3.checkpoint_bucket
  labels       = local.labels
}

module "app" {
  source       = "../../modules/app"
  name_prefix  = var.name_prefix
  network_name = module.network.name
  image        = local.images.app
  memory_mb    = var.app_memory_mb
  labels       = local.labels

  # The variables stack/topology.py, the producer and the job read: the same code as locally,
  # pointed at the containers.
  environment = {
    KAFKA_BOOTSTRAP_SERVERS = module.kafka.bootstrap_servers
    KAFKA_PARTITIONS        = tostring(module.kafka.partitions)
    KAFKA_TOPIC             = local.kafka.topics.trades
    KAFKA_DLQ_TOPIC         = local.kafka.topics.dead_letter
    SPARK_MASTER_URL        = module.spark.master_url
    CLICKHOUSE_URL          = module.clickhouse.url
    CLICKHOUSE_DATABASE     = module.clickhouse.database
    CLICKHOUSE_USER         = module.clickhouse.user
    S3_ENDPOINT_URL         = module.object_storage.endpoint
    AWS_REGION              = module.object_storage.region
    CHECKPOINT_BUCKET       = module.object_storage.bucket
  }
  secret_environment = {
    CLICKHOUSE_PASSWORD   = var.clickhouse_password
    AWS_ACCESS_KEY_ID     = var.aws_access_key_id
    AWS_SECRET_ACCESS_KEY = var.aws_secret_access_key
  }

  # The app is the last to start: everything it talks to is healthy by then.
  depends_on = [module.kafka, module.spark, module.clickhouse, module.object_storage]
}
