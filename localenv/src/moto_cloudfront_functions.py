"""CloudFront Functions for moto 5.2.5 (embedded by localenv's moto.rs, run
before moto serves).

moto implements CreateFunction, DescribeFunction, GetFunction, ListFunctions
and DeleteFunction, but not UpdateFunction or PublishFunction, keeps one code
for both stages, and drops a cache behavior's FunctionAssociations. foundry
attaches a function to its distribution (the web client's SPA fallback), so
this adds, after the API model (botocore cloudfront 2020-05-31):

- UpdateFunction (PUT /function/{Name}, If-Match = the DEVELOPMENT ETag,
  else 412 PreconditionFailed): new config and code in DEVELOPMENT;
- PublishFunction (POST /function/{Name}/publish, If-Match as above):
  DEVELOPMENT is copied to LIVE, whose status becomes DEPLOYED;
- DescribeFunction and GetFunction with Stage=LIVE: the published copy, or
  NoSuchFunctionExists before the first publish; ListFunctions with Stage;
- FunctionAssociations kept on the default and the ordered cache behaviors.
"""

import copy

from moto.cloudfront import models as _cf_models
from moto.cloudfront import responses as _cf_responses
from moto.cloudfront import urls as _cf_urls
from moto.cloudfront.exceptions import CloudFrontException, NoSuchFunctionExists
from moto.core.utils import utcnow


class _PreconditionFailed(CloudFrontException):
    # The model gives it HTTP 412.
    def __init__(self) -> None:
        super().__init__(
            "PreconditionFailed",
            "The If-Match version does not match the function's current version.",
        )


def _random_etag() -> str:
    return _cf_models.random_id()


_Function = _cf_models.CloudFrontFunction
_original_init = _Function.__init__


def _function_init(self, *args, **kwargs):
    _original_init(self, *args, **kwargs)
    self.live = None


def _summary_of(function, stage):
    summary = copy.deepcopy(function.function_summary)
    summary["FunctionMetadata"]["Stage"] = stage
    if stage == "LIVE":
        summary["Status"] = "DEPLOYED"
        summary["FunctionConfig"] = function.live["config"]
        summary["FunctionMetadata"]["LastModifiedTime"] = function.live["time"]
    return summary


_Function.__init__ = _function_init

_Backend = _cf_models.CloudFrontBackend


def _staged(self, name, stage):
    function = _Backend.describe_function(self, name)
    if (stage or "DEVELOPMENT") == "LIVE" and getattr(function, "live", None) is None:
        raise NoSuchFunctionExists(name)
    return function


def _update_function(self, name, if_match, config, code):
    function = _Backend.describe_function(self, name)
    if if_match != function.etag:
        raise _PreconditionFailed()
    function.config = config
    function.code = code
    function.status = "UNPUBLISHED"
    function.last_modified_time = utcnow()
    function.etag = _random_etag()
    return function


def _publish_function(self, name, if_match):
    function = _Backend.describe_function(self, name)
    if if_match != function.etag:
        raise _PreconditionFailed()
    function.live = {
        "config": copy.deepcopy(function.config),
        "code": function.code,
        "time": utcnow(),
        "etag": _random_etag(),
    }
    function.status = "UNASSOCIATED"
    return function


_Backend.staged_function = _staged
_Backend.update_function = _update_function
_Backend.publish_function = _publish_function

_Response = _cf_responses.CloudFrontResponse
ActionResult = _cf_responses.ActionResult


def _r_update_function(self):
    name = self._get_param("Name")
    function = self.backend.update_function(
        name=name,
        if_match=self._get_param("IfMatch"),
        config=self._get_param("FunctionConfig", {}),
        code=self._get_param("FunctionCode"),
    )
    return ActionResult(
        {"FunctionSummary": _summary_of(function, "DEVELOPMENT"), "ETag": function.etag}
    )


def _r_publish_function(self):
    name = self._get_param("Name")
    function = self.backend.publish_function(
        name=name, if_match=self._get_param("IfMatch")
    )
    return ActionResult({"FunctionSummary": _summary_of(function, "LIVE")})


def _r_describe_function(self):
    name = self._get_param("Name")
    stage = self._get_param("Stage") or "DEVELOPMENT"
    function = self.backend.staged_function(name, stage)
    etag = function.live["etag"] if stage == "LIVE" else function.etag
    return ActionResult({"FunctionSummary": _summary_of(function, stage), "ETag": etag})


def _r_get_function(self):
    name = self._get_param("Name")
    stage = self._get_param("Stage") or "DEVELOPMENT"
    function = self.backend.staged_function(name, stage)
    live = stage == "LIVE"
    return ActionResult(
        {
            "FunctionCode": function.live["code"] if live else function.code,
            "ETag": function.live["etag"] if live else function.etag,
            "ContentType": "application/octet-stream",
        }
    )


def _r_list_functions(self):
    stage = self._get_param("Stage")
    functions = list(self.backend.functions.values())
    if stage == "LIVE":
        items = [_summary_of(f, "LIVE") for f in functions if f.live is not None]
    else:
        items = [_summary_of(f, "DEVELOPMENT") for f in functions]
    return ActionResult(
        {"FunctionList": {"MaxItems": 100, "Quantity": len(items), "Items": items}}
    )


_Response.update_function = _r_update_function
_Response.publish_function = _r_publish_function
_Response.describe_function = _r_describe_function
_Response.get_function = _r_get_function
_Response.list_functions = _r_list_functions
_cf_urls.url_paths[
    "{0}/2020-05-31/function/(?P<function_name>[^/]+)/publish$"
] = _Response.dispatch

# Cache behaviors keep the functions associated with them.
_Behaviour = _cf_models.DefaultCacheBehaviour
_original_behaviour_init = _Behaviour.__init__


def _behaviour_init(self, config):
    _original_behaviour_init(self, config)
    associations = config.get("FunctionAssociations")
    if associations and int(associations.get("Quantity") or 0) > 0:
        self.function_associations = associations


_Behaviour.__init__ = _behaviour_init
