"""Network: a VPC whose database lives in isolated subnets and whose functions reach AWS through endpoints.

A NAT gateway (~$33/month plus traffic) is the only thing that lets functions reach the internet (outbound
webhooks, SES, Amazon Translate); a stage turns it on or off in infra/config.py.
"""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from infra.config import StageConfig


class Network(Construct):
    """VPC, subnets, security groups and the VPC endpoints the functions need without a NAT gateway."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        nat = config.nat_gateways > 0
        subnets = [ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)]
        if nat:
            subnets += [
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22),
            ]
        else:
            subnets.append(
                ec2.SubnetConfiguration(name="app", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=22)
            )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=config.max_azs,
            nat_gateways=config.nat_gateways,
            subnet_configuration=subnets,
            flow_logs={"rejected": ec2.FlowLogOptions(traffic_type=ec2.FlowLogTrafficType.REJECT)},
        )
        self.app_subnets = ec2.SubnetSelection(subnet_group_name="app")
        self.data_subnets = ec2.SubnetSelection(subnet_group_name="data")

        self.function_sg = ec2.SecurityGroup(
            self, "FunctionSg", vpc=self.vpc, description="Conveyor functions", allow_all_outbound=True
        )
        self.database_sg = ec2.SecurityGroup(
            self, "DatabaseSg", vpc=self.vpc, description="Conveyor database and proxy", allow_all_outbound=False
        )
        endpoint_sg = ec2.SecurityGroup(
            self, "EndpointSg", vpc=self.vpc, description="VPC interface endpoints", allow_all_outbound=False
        )
        endpoint_sg.add_ingress_rule(self.function_sg, ec2.Port.tcp(443), "HTTPS from the functions")

        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        endpoints = [
            ("Sqs", ec2.InterfaceVpcEndpointAwsService.SQS),
            ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
            ("Kms", ec2.InterfaceVpcEndpointAwsService.KMS),
        ]
        if not nat:
            # Without a NAT, the SES API (verification mail, email jobs) and Amazon Translate need endpoints too.
            endpoints += [
                ("SesApi", ec2.InterfaceVpcEndpointAwsService.EMAIL),
                ("Translate", ec2.InterfaceVpcEndpointAwsService.TRANSLATE),
            ]
        for name, service in endpoints:
            self.vpc.add_interface_endpoint(
                name, service=service, subnets=self.app_subnets, security_groups=[endpoint_sg], private_dns_enabled=True
            )
