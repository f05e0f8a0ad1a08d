variable "name_prefix" {
  description = "Prefix of every name (network, subnet, router, security groups)."
  type        = string
}

variable "subnet_cidr" {
  description = "The environment's IPv4 subnet, /24 or larger. Its lower half holds the hosts' fixed addresses (assigned by the nodes module); Neutron's allocation pool (DHCP and router ports) is the upper half."
  type        = string

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0)) && !strcontains(var.subnet_cidr, ":")
    error_message = "subnet_cidr must be an IPv4 CIDR such as 10.20.0.0/24."
  }
  validation {
    condition     = try(tonumber(split("/", var.subnet_cidr)[1]) <= 24, true)
    error_message = "subnet_cidr must be a /24 or larger (the hosts' fixed addresses take the lower half)."
  }
}

variable "dns_nameservers" {
  description = "DNS servers handed out by DHCP; empty = the cloud's default."
  type        = list(string)
  default     = []
}

variable "external_network_name" {
  description = "The cloud's external (provider) network: the router's gateway and the floating IP pool."
  type        = string
}

variable "admin_cidrs" {
  description = "Where operators and the Ansible controller connect from: SSH to every host and ClickHouse HTTP. IPv4 or IPv6 CIDRs."
  type        = list(string)

  validation {
    condition     = alltrue([for cidr in var.admin_cidrs : can(cidrhost(cidr, 0))])
    error_message = "admin_cidrs: every entry must be a CIDR such as 198.51.100.7/32."
  }
}

variable "allow_ssh_from_anywhere" {
  description = "Open SSH to 0.0.0.0/0 and ::/0 as well as admin_cidrs. Off by default; no other port is ever opened to the world."
  type        = bool
  default     = false
}

variable "ports" {
  description = "Service ports, from runtime/topology.yaml: kafka_client, kafka_controller, spark_master, spark_master_ui, spark_worker_ui, clickhouse_http."
  type = object({
    kafka_client     = number
    kafka_controller = number
    spark_master     = number
    spark_master_ui  = number
    spark_worker_ui  = number
    clickhouse_http  = number
  })
}

variable "spark_dynamic_ports" {
  description = "Ports Spark picks at random (driver RPC, block managers, executors, worker RPC), open between the Spark hosts and the app host only: Debian's ephemeral range (net.ipv4.ip_local_port_range) unless the Spark settings pin them."
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
