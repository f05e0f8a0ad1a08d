variable "region" {
  description = "AWS region."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name."
  type        = string
  default     = "cryptostream-staging"
}

variable "kafka_broker_count" {
  description = "Kafka brokers (EC2 instances or MSK broker nodes)."
  type        = number
  default     = 3
}

variable "spark_worker_count" {
  description = "Spark standalone workers (EC2 instances)."
  type        = number
  default     = 2
}

variable "instance_type" {
  description = "EC2 instance type of the Kafka, Spark and ClickHouse nodes."
  type        = string
  default     = "m6i.large"
}

variable "checkpoint_bucket" {
  description = "S3 bucket for the job's checkpoints; null = topology.yaml's name suffixed with the environment."
  type        = string
  default     = null
}
