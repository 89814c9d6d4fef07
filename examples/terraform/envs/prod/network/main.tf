# Production network: one VPC and its subnets.
terraform {
  required_version = ">= 1.4"
}

locals {
  env     = "prod"
  subnets = ["10.10.1.0/24", "10.10.2.0/24"]
}

module "label" {
  source = "../../../modules/label"
  env    = local.env
  name   = "network"
}

resource "terraform_data" "vpc" {
  input = {
    name = module.label.id
    cidr = "10.10.0.0/16"
  }
}

resource "terraform_data" "subnet" {
  count = length(local.subnets)
  input = {
    vpc  = terraform_data.vpc.output.name
    cidr = local.subnets[count.index]
  }
}
