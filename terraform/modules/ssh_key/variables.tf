variable "directory" {
  description = "Folder (outside the repository) the key pair is written to; created with mode 700. The private key is `id_ed25519` (mode 600), the public key `id_ed25519.pub`, and `known_hosts` collects the hosts' keys."
  type        = string
}

variable "comment" {
  description = "Comment put in the public key (who the key is for)."
  type        = string
}
