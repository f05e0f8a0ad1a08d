# Bad input fails at plan time, naming the variable; nothing is planned against the cloud.
#   tofu -chdir=terraform/envs/cloud init -backend=false && tofu -chdir=terraform/envs/cloud test

mock_provider "openstack" {}

mock_provider "local" {}

# A valid environment (a fixture, not staging or prod); each run breaks one thing.
variables {
  environment           = "tftest"
  external_network_name = "public"
  image                 = "debian-12-generic-amd64"
  flavors = {
    kafka = "f", spark_master = "f", spark_workers = "f", clickhouse = "f", app = "f"
  }
  kafka_broker_count = 3
  spark_worker_count = 2
  volume_size_gb     = { kafka = 10, clickhouse = 10 }
  subnet_cidr        = "10.20.0.0/24"
  admin_cidrs        = ["198.51.100.7/32"]
  s3_endpoint        = "https://s3.example-cloud.net"
  ssh_key_dir        = "/tmp/cryptostream-tftest-cloud-ssh"
  output_dir         = "/tmp/cryptostream-tftest-cloud-generated"
  # backend.tf's state encryption wants one; the tests keep their state in memory.
  state_passphrase = "tftest-passphrase-not-a-secret"
}

run "the_fixture_is_valid" {
  command = plan
}

run "a_subnet_cidr_that_does_not_parse" {
  command = plan
  variables {
    subnet_cidr = "10.20.0.0/33"
  }
  expect_failures = [var.subnet_cidr]
}

run "a_subnet_too_small_for_the_address_plan" {
  command = plan
  variables {
    subnet_cidr = "10.20.0.0/26"
  }
  expect_failures = [var.subnet_cidr]
}

run "an_admin_cidr_that_does_not_parse" {
  command = plan
  variables {
    admin_cidrs = ["198.51.100.7"]
  }
  expect_failures = [var.admin_cidrs]
}

run "no_admin_cidr" {
  command = plan
  variables {
    admin_cidrs = []
  }
  expect_failures = [var.admin_cidrs]
}

run "no_brokers" {
  command = plan
  variables {
    kafka_broker_count = 0
  }
  expect_failures = [var.kafka_broker_count]
}

run "an_even_kraft_quorum" {
  command = plan
  variables {
    kafka_broker_count = 4
  }
  expect_failures = [var.kafka_broker_count]
}

run "a_replication_factor_above_the_broker_count" {
  command = plan
  variables {
    kafka_broker_count       = 1
    kafka_replication_factor = 3
  }
  expect_failures = [var.kafka_replication_factor]
}

run "no_spark_worker" {
  command = plan
  variables {
    spark_worker_count = 0
  }
  expect_failures = [var.spark_worker_count]
}

run "an_empty_volume" {
  command = plan
  variables {
    volume_size_gb = { kafka = 0, clickhouse = 10 }
  }
  expect_failures = [var.volume_size_gb]
}

run "a_bad_environment_name" {
  command = plan
  variables {
    environment = "Prod!"
  }
  expect_failures = [var.environment]
}

run "an_unknown_kafka_profile" {
  command = plan
  variables {
    kafka_security_profile = "tls"
  }
  expect_failures = [var.kafka_security_profile]
}
