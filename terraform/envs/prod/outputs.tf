output "plan" {
  description = "What this environment will provision (until the AWS resources exist)."
  value       = local.plan
}
