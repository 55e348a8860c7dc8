"""ECS service deployments for moto 5.2.5 (embedded by localenv's moto.rs,
run before moto serves).

moto's CreateService drops `deploymentConfiguration` and
`healthCheckGracePeriodSeconds`, starts no task (its one deployment stays
IN_PROGRESS unless MOTO_ECS_SERVICE_RUNNING says otherwise), and its
UpdateService changes the service's task definition without a deployment
for it. foundry follows a release through the service's deployments, so
this adds, after the API model (botocore ecs 2014-11-13):

- CreateService keeps `deploymentConfiguration` and
  `healthCheckGracePeriodSeconds` and answers them in DescribeServices; its
  deployment completes at once (the tasks "run": runningCount = desired);
- UpdateService keeps both as well, and a new `taskDefinition` gets a new
  PRIMARY deployment that completes at once (COMPLETED, the previous one
  removed), with a service event naming it;
- the stand-in for tasks that fail (nothing runs images here): a revision
  whose container environment sets MOTO_ECS_FAIL_DEPLOYMENT=true fails its
  deployment the way ECS's circuit breaker (rollback on) does: that
  deployment FAILED with the circuit breaker's reason, the previous
  revision PRIMARY and COMPLETED again, the service's taskDefinition back
  on it, and the events saying so.
"""

from moto.core.utils import utcnow
from moto.ecs import models as _ecs_models
from moto.ecs import responses as _ecs_responses
from moto.moto_api._internal import mock_random as _random

_Response = _ecs_responses.EC2ContainerServiceResponse

_FAIL_VARIABLE = "MOTO_ECS_FAIL_DEPLOYMENT"


def _service_of(backend, cluster_str, name_or_arn):
    return backend._get_service(cluster_str or "default", name_or_arn.split("/")[-1])


def _keep_settings(service, params):
    if params.get("deploymentConfiguration") is not None:
        service.deployment_configuration = params["deploymentConfiguration"]
    if params.get("healthCheckGracePeriodSeconds") is not None:
        service.health_check_grace_period_seconds = params[
            "healthCheckGracePeriodSeconds"
        ]


def _event(service, message):
    service.events.insert(
        0,
        {"id": str(_random.uuid4()), "createdAt": utcnow(), "message": message},
    )


def _deployment(service, task_definition, state, reason, status):
    now = utcnow()
    deployment_id = f"ecs-svc/{_random.randint(0, 32**12)}"
    return {
        "id": deployment_id,
        "status": status,
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": 0,
        "runningCount": service.desired_count if state == "COMPLETED" else 0,
        "failedTasks": 0 if state == "COMPLETED" else service.desired_count,
        "createdAt": now,
        "updatedAt": now,
        "launchType": service.launch_type,
        "platformFamily": "FARGATE",
        "rolloutState": state,
        "rolloutStateReason": reason.replace("{id}", deployment_id),
    }


def _fails(backend, task_definition):
    task = backend.describe_task_definition(task_definition)
    for container in task.container_definitions:
        for variable in container.get("environment") or []:
            if variable.get("name") == _FAIL_VARIABLE and variable.get("value") == "true":
                return True
    return False


_original_create_service = _Response.create_service


def _r_create_service(self):
    result = _original_create_service(self)
    params = self._get_params()
    service = _service_of(
        self.ecs_backend, params.get("cluster"), params["serviceName"]
    )
    _keep_settings(service, params)
    service.running_count = service.desired_count
    service.pending_count = 0
    for deployment in service.deployments:
        deployment["runningCount"] = service.desired_count
        deployment["pendingCount"] = 0
        deployment["rolloutState"] = "COMPLETED"
        deployment["rolloutStateReason"] = (
            f"ECS deployment {deployment['id']} completed."
        )
    _event(service, f"(service {service.name}) has reached a steady state.")
    return result


_original_update_service = _Response.update_service


def _r_update_service(self):
    params = self._get_params()
    backend = self.ecs_backend
    service = _service_of(backend, params.get("cluster"), params["service"])
    before = service.task_definition
    result = _original_update_service(self)
    _keep_settings(service, params)
    after = params.get("taskDefinition")
    if after is None:
        return result
    after = backend.describe_task_definition(after).arn
    service.task_definition = after
    if after == before:
        return result
    if _fails(backend, after):
        failed = _deployment(
            service,
            after,
            "FAILED",
            "ECS deployment circuit breaker: tasks failed to start.",
            "ACTIVE",
        )
        restored = _deployment(
            service,
            before,
            "COMPLETED",
            "ECS deployment {id} completed.",
            "PRIMARY",
        )
        service.deployments = [restored, failed]
        service.task_definition = before
        _event(
            service,
            f"(service {service.name}) deployment {failed['id']} deployment failed: tasks failed to start.",
        )
        _event(
            service,
            f"(service {service.name}) rolling back to deployment {restored['id']}.",
        )
        return result
    service.deployments = [
        _deployment(
            service, after, "COMPLETED", "ECS deployment {id} completed.", "PRIMARY"
        )
    ]
    _event(service, f"(service {service.name}) has reached a steady state.")
    return result


_Response.create_service = _r_create_service
_Response.update_service = _r_update_service
