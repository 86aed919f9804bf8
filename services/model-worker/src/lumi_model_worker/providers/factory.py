"""The 3D generator the settings choose: the one place that knows every adapter."""

from __future__ import annotations

from yarl import URL

from lumi_common.providers.calls import CallLog
from lumi_common.providers.http import BearerApi
from lumi_common.providers.tencent import TencentApi
from lumi_common.storage.protocol import Storage
from lumi_model_worker.providers import hunyuan3d
from lumi_model_worker.providers.hosted import HostedMeshGenerator, MeshService, ModelOutput
from lumi_model_worker.providers.meshes import MeshGenerator, OfflineReliefGenerator
from lumi_model_worker.providers.meshy import Meshy
from lumi_model_worker.providers.tripo import Tripo
from lumi_model_worker.settings import ModelWorkerSettings

# where each provider's result files live (subdomains included), besides its API's host
RESULT_HOSTS = {
    "tripo": frozenset({"tripo3d.ai", "tripo3d.com"}),
    "meshy": frozenset({"meshy.ai"}),
    "hunyuan3d": frozenset({"myqcloud.com", "tencentcos.cn", "tencentcloudapi.com"}),
}


def mesh_generator(
    settings: ModelWorkerSettings, *, calls: CallLog, storage: Storage
) -> MeshGenerator:
    if settings.model_provider == "offline":
        # submitted pictures wait in the shared storage: a poll may reach another replica
        return OfflineReliefGenerator(storage)
    service, base_url = mesh_service(settings)
    hosts = RESULT_HOSTS[settings.model_provider] | {URL(base_url).host or ""}
    return HostedMeshGenerator(
        service,
        calls=calls,
        downloads=settings.download_policy(hosts),
        output=ModelOutput(
            print_size_mm=settings.model_print_size_mm, max_faces=settings.model_max_faces
        ),
    )


def mesh_service(settings: ModelWorkerSettings) -> tuple[MeshService, str]:
    """The chosen hosted service and its base URL (the settings checked its key is there)."""
    timeouts = settings.api_timeouts()
    if settings.model_provider == "tripo" and settings.tripo_api_key:
        tripo = Tripo(
            api=BearerApi(settings.tripo_base_url, settings.tripo_api_key, timeouts),
            model=settings.tripo_model,
            face_limit=settings.model_max_faces,
        )
        return tripo, settings.tripo_base_url
    if settings.model_provider == "meshy" and settings.meshy_api_key:
        meshy = Meshy(
            api=BearerApi(settings.meshy_base_url, settings.meshy_api_key, timeouts),
            model=settings.meshy_model,
            target_polycount=min(settings.model_max_faces, 300_000),
        )
        return meshy, settings.meshy_base_url
    api = TencentApi(
        base_url=settings.hunyuan3d_base_url,
        service=hunyuan3d.SERVICE,
        version=hunyuan3d.VERSION,
        region=settings.tencent_region,
        credentials=settings.tencent_credentials(),
        timeouts=timeouts,
    )
    service = hunyuan3d.Hunyuan3D(
        api=api, model=settings.hunyuan3d_model, face_count=settings.model_max_faces
    )
    return service, settings.hunyuan3d_base_url
