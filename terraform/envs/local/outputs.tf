locals {
  # Ansible reaches every container with the community.docker.docker connection (docker exec):
  # no SSH, no container address used from the host.
  inventory = {
    all = {
      vars = {
        ansible_connection         = "community.docker.docker"
        ansible_python_interpreter = "/usr/bin/python3"
        cryptostream_stack         = var.name_prefix
        kafka_bootstrap_servers    = module.kafka.bootstrap_servers
        kafka_client_port          = local.kafka.port
        kafka_partitions           = module.kafka.partitions
        kafka_replication_factor   = module.kafka.replication_factor
        kafka_min_insync_replicas  = module.kafka.min_insync_replicas
        kafka_trades_topic         = local.kafka.topics.trades
        kafka_dead_letter_topic    = local.kafka.topics.dead_letter
        spark_master_url           = module.spark.master_url
        spark_master_ui_port       = local.spark.master_ui_port
        spark_expected_workers     = var.spark_worker_count
        clickhouse_url             = module.clickhouse.url
        clickhouse_database        = module.clickhouse.database
        clickhouse_user            = module.clickhouse.user
        s3_endpoint                = module.object_storage.endpoint
        s3_region                  = module.object_storage.region
        checkpoint_bucket          = module.object_storage.bucket
        app_programs_dir           = module.app.programs_dir
      }
      children = {
        kafka          = { hosts = { for name in module.kafka.broker_names : name => {} } }
        spark_master   = { hosts = { (module.spark.master_name) = {} } }
        spark_workers  = { hosts = { for name in module.spark.worker_names : name => {} } }
        spark          = { children = { spark_master = {}, spark_workers = {} } }
        clickhouse     = { hosts = { (module.clickhouse.name) = {} } }
        object_storage = { hosts = { (module.object_storage.name) = {} } }
        app = {
          hosts = { (module.app.name) = {
            # The project's virtual environment: boto3, clickhouse-connect, the project's code.
            ansible_python_interpreter = "/opt/venv/bin/python"
          } }
        }
      }
    }
  }

  endpoints = {
    stack                   = var.name_prefix
    kafka_bootstrap_servers = module.kafka.host_bootstrap_servers
    clickhouse_url          = module.clickhouse.host_url
    clickhouse_database     = module.clickhouse.database
    clickhouse_user         = module.clickhouse.user
    s3_endpoint             = module.object_storage.host_endpoint
    checkpoint_bucket       = module.object_storage.bucket
    spark_master_ui         = module.spark.master_ui_host_url
    app_container           = module.app.name
  }
}

resource "local_file" "inventory" {
  filename        = "${local.output_dir}/inventory.yml"
  content         = "# Written by terraform/envs/local (tofu apply); do not edit.\n${yamlencode(local.inventory)}"
  file_permission = "0644"
}

resource "local_file" "endpoints" {
  filename        = "${local.output_dir}/endpoints.json"
  content         = "${jsonencode(local.endpoints)}\n"
  file_permission = "0644"
}

output "inventory_file" {
  description = "Ansible inventory: ansible-playbook -i <this> ansible/deploy.yml"
  value       = abspath(local_file.inventory.filename)
}

output "endpoints_file" {
  description = "Host-side endpoints (JSON; no secrets)."
  value       = abspath(local_file.endpoints.filename)
}

output "endpoints" {
  description = "Addresses published on the host (127.0.0.1 only)."
  value       = local.endpoints
}
