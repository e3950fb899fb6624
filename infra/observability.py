"""Observability: an SNS topic for alarm e-mail, the alarms that mean someone should look, and one dashboard."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from infra.config import StageConfig
from infra.queues import QueueWithDlq

FIVE_MINUTES = Duration.minutes(5)
# A wake-up older than this means the consumers are not keeping up (or not running).
OLDEST_MESSAGE_ALARM_S = 15 * 60
DB_CPU_ALARM_PERCENT = 80
DB_CONNECTIONS_ALARM = 60  # db.t4g.micro allows ~80; the proxy keeps it lower in steady state


class Observability(Construct):
    """Alarms on errors, throttles, DLQ depth, queue age, API 5xx and database load; all notify one topic."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        functions: Mapping[str, lambda_.IFunction],
        queues: Mapping[str, QueueWithDlq],
        api: apigw.RestApi,
        database: rds.DatabaseInstance,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(self, "Alarms", display_name=f"Conveyor {config.stage} alarms", enforce_ssl=True)
        if config.alarm_email:
            self.topic.add_subscription(subs.EmailSubscription(config.alarm_email))
        self.alarms: list[cw.Alarm] = []

        def alarm(alarm_id: str, metric: cw.IMetric, threshold: float, description: str, periods: int = 1) -> None:
            created = cw.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(cw_actions.SnsAction(self.topic))
            self.alarms.append(created)

        widgets: list[cw.IWidget] = []
        for name, fn in functions.items():
            errors = fn.metric_errors(period=FIVE_MINUTES, statistic="Sum")
            throttles = fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum")
            alarm(f"{name}Errors", errors, 1, f"{name}: the function raised (a 5xx or an unhandled batch)")
            alarm(f"{name}Throttles", throttles, 1, f"{name}: invocations were throttled")
            widgets.append(
                cw.GraphWidget(
                    title=f"{name}: invocations, errors, throttles",
                    left=[fn.metric_invocations(period=FIVE_MINUTES), errors, throttles],
                )
            )
        for name, q in queues.items():
            depth = q.dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum")
            age = q.queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum")
            alarm(f"{name}DlqDepth", depth, 1, f"{name}: messages reached the dead-letter queue")
            alarm(f"{name}OldestMessage", age, OLDEST_MESSAGE_ALARM_S, f"{name}: messages wait too long", periods=3)
            widgets.append(cw.GraphWidget(title=f"{name} queue", left=[depth], right=[age]))
        server_errors = api.metric_server_error(period=FIVE_MINUTES, statistic="Sum")
        alarm("Api5xx", server_errors, 5, "API answered 5xx (always a bug)")
        cpu = database.metric_cpu_utilization(period=FIVE_MINUTES)
        connections = database.metric_database_connections(period=FIVE_MINUTES)
        alarm("DatabaseCpu", cpu, DB_CPU_ALARM_PERCENT, "database CPU is high", periods=3)
        alarm(
            "DatabaseConnections", connections, DB_CONNECTIONS_ALARM, "database connections near the limit", periods=3
        )
        widgets += [
            cw.GraphWidget(
                title="API",
                left=[api.metric_count(period=FIVE_MINUTES), server_errors],
                right=[api.metric_latency(period=FIVE_MINUTES)],
            ),
            cw.GraphWidget(title="Database", left=[cpu], right=[connections]),
        ]
        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"conveyor-{config.stage}")
        for i in range(0, len(widgets), 3):
            self.dashboard.add_widgets(*widgets[i : i + 3])
