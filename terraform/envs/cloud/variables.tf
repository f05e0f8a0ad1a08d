# Every value that differs between environments is a variable set in <env>.tfvars.json; the rest
# has one default for all environments. A wrong value fails at plan time naming the variable.

variable "environment" {
  description = "The environment's name (staging, prod, ...): resource names are cryptostream-<environment>-..., and the inventory's cryptostream_env."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,19}$", var.environment))
    error_message = "environment must be 1-20 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "external_network_name" {
  description = "The cloud's external network: the router's gateway and the floating IP pool (`openstack network list --external`)."
  type        = string
}

variable "image" {
  description = "Name of a Debian 12 (bookworm) generic cloud image in the cloud's image service (`openstack image list`); the newest with that name is used at creation."
  type        = string
}

variable "flavors" {
  description = "Flavor name per inventory group (`openstack flavor list`)."
  type = object({
    kafka         = string
    spark_master  = string
    spark_workers = string
    clickhouse    = string
    app           = string
  })
}

variable "kafka_broker_count" {
  description = "Kafka brokers; each is also a KRaft controller, so the count is the quorum size and must be odd."
  type        = number

  validation {
    condition     = var.kafka_broker_count >= 1
    error_message = "kafka_broker_count must be at least 1 (0 brokers is no Kafka)."
  }
  validation {
    condition     = var.kafka_broker_count % 2 == 1 || var.kafka_broker_count < 1
    error_message = "kafka_broker_count must be odd: the brokers form the KRaft quorum, and an even quorum tolerates no more failures than one broker fewer."
  }
  validation {
    condition     = var.kafka_broker_count <= 15 && floor(var.kafka_broker_count) == var.kafka_broker_count
    error_message = "kafka_broker_count must be a whole number up to 15."
  }
}

variable "kafka_replication_factor" {
  description = "Copies of each partition of the pipeline's topics; null = Ansible's default, min(3, brokers). At most kafka_broker_count."
  type        = number
  default     = null

  validation {
    condition     = var.kafka_replication_factor == null || try(var.kafka_replication_factor >= 1 && var.kafka_replication_factor <= var.kafka_broker_count, false)
    error_message = "kafka_replication_factor must be between 1 and kafka_broker_count (a topic cannot have more copies than there are brokers)."
  }
}

variable "spark_worker_count" {
  description = "Spark standalone workers."
  type        = number

  validation {
    condition     = var.spark_worker_count >= 1 && var.spark_worker_count <= 16 && floor(var.spark_worker_count) == var.spark_worker_count
    error_message = "spark_worker_count must be a whole number from 1 to 16."
  }
}

variable "volume_size_gb" {
  description = "Size of each data volume, GB: one per Kafka broker (/var/lib/kafka) and one for ClickHouse (/var/lib/clickhouse)."
  type = object({
    kafka      = number
    clickhouse = number
  })

  validation {
    condition     = var.volume_size_gb.kafka >= 1 && var.volume_size_gb.clickhouse >= 1
    error_message = "volume_size_gb: kafka and clickhouse must each be at least 1."
  }
}

variable "volume_type" {
  description = "Cinder volume type of the data volumes (`openstack volume type list`); null = the cloud's default."
  type        = string
  default     = null
}

variable "subnet_cidr" {
  description = "The environment's private IPv4 subnet, /24 or larger."
  type        = string

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && !strcontains(var.subnet_cidr, ":")
    error_message = "subnet_cidr must be an IPv4 CIDR such as 10.20.0.0/24."
  }
  validation {
    condition     = try(tonumber(split("/", var.subnet_cidr)[1]) <= 24, true)
    error_message = "subnet_cidr must be a /24 or larger (the hosts' fixed addresses take its lower half)."
  }
}

variable "admin_cidrs" {
  description = "Where operators and the Ansible controller connect from: SSH to every host and ClickHouse HTTP. Nothing else is reachable from outside the environment."
  type        = list(string)

  validation {
    condition     = length(var.admin_cidrs) > 0 && alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs must list at least one CIDR, each such as 198.51.100.7/32."
  }
}

variable "allow_ssh_from_anywhere" {
  description = "Open SSH to the world as well (not recommended); no other port is ever opened to the world."
  type        = bool
  default     = false
}

variable "assign_floating_ips" {
  description = "A floating IP per host, Ansible's address for it; false = Ansible uses the private addresses (a controller inside the network, or a VPN)."
  type        = bool
  default     = true
}

variable "dns_nameservers" {
  description = "DNS servers for the subnet; empty = the cloud's default."
  type        = list(string)
  default     = []
}

variable "anti_affinity_policy" {
  description = "Brokers and workers each on their own hypervisor: anti-affinity (hard) or soft-anti-affinity (best effort, small clouds)."
  type        = string
  default     = "anti-affinity"

  validation {
    condition     = contains(["anti-affinity", "soft-anti-affinity"], var.anti_affinity_policy)
    error_message = "anti_affinity_policy must be anti-affinity or soft-anti-affinity."
  }
}

variable "availability_zone" {
  description = "Availability zone of instances and volumes; null = the cloud's default."
  type        = string
  default     = null
}

variable "spark_dynamic_ports" {
  description = "The ports Spark chooses at random (driver, block managers, executors, worker RPC), open only between the Spark hosts and the app host."
  type = object({
    from = number
    to   = number
  })
  default = { from = 32768, to = 60999 }

  validation {
    condition     = var.spark_dynamic_ports.from >= 1024 && var.spark_dynamic_ports.from <= var.spark_dynamic_ports.to && var.spark_dynamic_ports.to <= 65535
    error_message = "spark_dynamic_ports must be a range within 1024-65535 with from <= to."
  }
}

variable "kafka_security_profile" {
  description = "plaintext or sasl_ssl (SCRAM-SHA-512 over TLS, the default in a cloud); handed to Ansible in the inventory."
  type        = string
  default     = "sasl_ssl"

  validation {
    condition     = contains(["plaintext", "sasl_ssl"], var.kafka_security_profile)
    error_message = "kafka_security_profile must be plaintext or sasl_ssl."
  }
}

variable "s3_endpoint" {
  description = "The cloud's S3-compatible endpoint URL (Swift's s3api or Ceph RGW), where the checkpoint bucket lives."
  type        = string
}

variable "checkpoint_bucket" {
  description = "The checkpoint bucket's name; null = topology.yaml's checkpoint_bucket suffixed with -<environment>."
  type        = string
  default     = null
}

variable "force_destroy_bucket" {
  description = "Let `tofu destroy` delete the checkpoint bucket with its contents."
  type        = bool
  default     = false
}

variable "ssh_user" {
  description = "The image's default user, which cloud-init gives the SSH key and Ansible logs in as (with become)."
  type        = string
  default     = "debian"
}

variable "ssh_key_dir" {
  description = "Where the environment's SSH key pair and known_hosts live (outside the repository); null = ~/.cache/cryptostream/ssh/cryptostream-<environment>."
  type        = string
  default     = null
}

variable "output_dir" {
  description = "Where the Ansible inventory and the endpoints file are written; null = ./generated/<environment> next to this file."
  type        = string
  default     = null
}

variable "apt_proxy" {
  description = "URL of an apt proxy the hosts use (e.g. http://10.20.0.5:3142); empty = none."
  type        = string
  default     = ""
}
