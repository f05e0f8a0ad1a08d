variable "name_prefix" {
  description = "Prefix of every name; a host is <prefix>-<host_name>-<n>, its data volume <host>-data."
  type        = string
}

variable "groups" {
  description = <<-EOT
    Hosts per inventory group. For each group: `host_name` (the name's middle part), `count`
    (0-16), `flavor` and `image` (names), `address_block` (the group's hosts get the subnet's
    host numbers 16 * address_block + 0..15), and optionally `volume_size_gb` with `data_path`
    (a data volume, formatted ext4 on first boot and mounted there; `volume_type` picks its
    Cinder type) and `anti_affinity` (the group's hosts on different hypervisors).
  EOT
  type = map(object({
    host_name      = string
    count          = number
    flavor         = string
    image          = string
    address_block  = number
    volume_size_gb = optional(number)
    volume_type    = optional(string)
    data_path      = optional(string)
    anti_affinity  = optional(bool, false)
  }))

  validation {
    condition     = alltrue([for group in values(var.groups) : group.count >= 0 && group.count <= 16 && floor(group.count) == group.count])
    error_message = "groups: each count must be a whole number from 0 to 16."
  }
  validation {
    condition     = alltrue([for group in values(var.groups) : group.volume_size_gb == null || try(group.volume_size_gb >= 1 && group.data_path != null, false)])
    error_message = "groups: volume_size_gb must be at least 1 and comes with a data_path."
  }
  validation {
    condition     = length(distinct([for group in values(var.groups) : group.address_block])) == length(var.groups) && alltrue([for group in values(var.groups) : group.address_block >= 1])
    error_message = "groups: every group needs its own address_block, 1 or more."
  }
}

variable "network_id" {
  description = "The private network the hosts' ports are on."
  type        = string
}

variable "subnet_id" {
  description = "The subnet of the hosts' fixed addresses (attached to the router when floating IPs are used)."
  type        = string
}

variable "subnet_cidr" {
  description = "The subnet's CIDR: a host's private address is cidrhost(subnet_cidr, 16 * address_block + index), in the half the network module keeps out of Neutron's allocation pool."
  type        = string

  validation {
    condition     = can(cidrhost(var.subnet_cidr, 0))
    error_message = "subnet_cidr must be a CIDR such as 10.20.0.0/24."
  }
}

variable "security_group_ids" {
  description = "Security group ids per inventory group (the network module's security_group_ids_by_host_group)."
  type        = map(list(string))
}

variable "ssh_public_key" {
  description = "Public key cloud-init puts in the image's default user's authorized_keys (debian on Debian's cloud images)."
  type        = string
}

variable "assign_floating_ips" {
  description = "A floating IP for every host, which becomes its ansible_host; false = ansible_host is the private address (run Ansible from inside the network, or through a VPN)."
  type        = bool
  default     = true
}

variable "floating_ip_pool" {
  description = "The external network floating IPs come from (needed when assign_floating_ips)."
  type        = string
  default     = null
}

variable "anti_affinity_policy" {
  description = "Server group policy of the groups with anti_affinity: anti-affinity (hard: fails to schedule rather than share a hypervisor) or soft-anti-affinity (best effort, for small clouds)."
  type        = string
  default     = "anti-affinity"

  validation {
    condition     = contains(["anti-affinity", "soft-anti-affinity"], var.anti_affinity_policy)
    error_message = "anti_affinity_policy must be anti-affinity or soft-anti-affinity."
  }
}

variable "availability_zone" {
  description = "Availability zone of the instances and volumes; null = the cloud's default."
  type        = string
  default     = null
}

variable "data_device_prefix" {
  description = "How a data volume appears in the guest: this prefix plus the first 20 characters of the volume id (virtio-blk on KVM, the common case; the disk's serial is the volume id)."
  type        = string
  default     = "/dev/disk/by-id/virtio-"
}

variable "metadata" {
  description = "Extra instance metadata (key => value) on every host."
  type        = map(string)
  default     = {}
}

variable "known_hosts_file" {
  description = "The environment's known_hosts file: a replaced or destroyed host's keys (by floating IP and private address) are removed from it, so that its successor is accepted anew. null: none."
  type        = string
  default     = null
}
