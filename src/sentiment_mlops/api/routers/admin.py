"""Operations on the running service: check the model URI now."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from sentiment_mlops.api.dependencies import FollowerDep, require_admin_key
from sentiment_mlops.api.schemas import ErrorResponse, ModelCheck

router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin_key)])


@router.post(
    "/reload",
    response_model=ModelCheck,
    summary="Check the model URI now; load, check and swap in a new version",
    responses={
        401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key"},
        403: {"model": ErrorResponse, "description": "SENTIMENT_API_KEY is not set"},
    },
)
async def reload(follower: FollowerDep) -> ModelCheck:
    """What the poll does, now, and retrying a version that failed before: ``loaded`` (a new
    version passed its checks and is served), ``unchanged`` or ``failed`` (with the reason;
    the previous model keeps serving). Answers once the check is over."""
    return await follower.check(retry_failed=True)
