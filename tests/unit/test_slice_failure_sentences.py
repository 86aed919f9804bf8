"""A failed slice's sentence for its client: a catalogue reference the slice worker stores (a
reason nested in it stays a reference), rendered in the reader's language; the exception's text
stays English for operators."""

from __future__ import annotations

import pytest
import trimesh

from lumi_common.errors import JobError
from lumi_common.i18n import Text, shown, stored
from lumi_common.i18n import slices as texts
from lumi_common.jobs.client_errors import for_code
from lumi_common.pipeline.slices import SliceJobs
from lumi_slice_worker.errors import (
    ModelNotSliceable,
    SliceProfileUnavailable,
    SlicerFailed,
    SlicerTimedOut,
    SliceSourceMissing,
)
from lumi_slice_worker.mesh import Bed, PrintSize, UnprintableMesh, prepare


def test_a_nested_reason_is_stored_as_a_reference_and_rendered_in_each_language() -> None:
    error = ModelNotSliceable(texts.REASON_FLAT(size="10 × 10 × 0"))
    assert error.client is not None
    reference = stored(error.client)
    assert reference.startswith("msg:SLICE_CANNOT_SLICE {")
    assert "the model" not in reference  # no English words stored, only keys and values
    assert shown(reference, "en") == (
        "this model cannot be sliced: the model is flat (its sides measure 10 × 10 × 0 mm): "
        "it has no volume to print"
    )
    assert shown(reference, "zh-CN") == (
        "无法切片此模型：模型是平的（尺寸为 10 × 10 × 0 毫米），没有可打印的体积"
    )
    assert str(error) == shown(reference, "en")  # operators read the same sentence


def test_a_reference_with_an_unknown_nested_key_shows_as_it_is() -> None:
    broken = 'msg:SLICE_CANNOT_SLICE {"reason": {"msg": "NO_SUCH_KEY"}}'
    assert shown(broken, "zh-CN") == broken
    wrong_fields = 'msg:SLICE_CANNOT_SLICE {"reason": {"msg": "SLICE_REASON_FLAT"}}'
    assert shown(wrong_fields, "en") == wrong_fields


@pytest.mark.parametrize(
    ("error", "en", "zh"),
    [
        (
            SlicerTimedOut(4.0),
            "the slicer did not finish within 4 s and was stopped",
            "切片软件未能在 4 秒内完成，已被停止",
        ),
        (
            SliceProfileUnavailable("old-profile"),
            "the slicing profile 'old-profile' is not available",
            "切片配置“old-profile”已不可用",
        ),
        (
            SliceSourceMissing("the mesh file x/y.stl is missing", texts.MODEL_FILE_MISSING()),
            "the model's file to slice is missing",
            "找不到此模型可供切片的文件",
        ),
        (
            ModelNotSliceable(texts.REASON_NO_GCODE(), detail="Exporting G-code: /tmp/x"),
            "this model cannot be sliced: the slicer wrote no G-code",
            "无法切片此模型：切片软件没有生成 G 代码",
        ),
    ],
)
def test_each_failure_carries_its_own_sentence(error: JobError, en: str, zh: str) -> None:
    assert error.client is not None
    assert shown(stored(error.client), "en") == en
    assert shown(stored(error.client), "zh-CN") == zh


def test_the_slicer_s_own_words_reach_operators_only() -> None:
    error = ModelNotSliceable(texts.REASON_NO_GCODE(), detail="Exporting G-code: /tmp/x")
    assert "/tmp/x" in str(error)
    assert error.client is not None
    assert "/tmp/x" not in stored(error.client)
    failed = SlicerFailed("the slicer failed (exit 3): something odd")
    assert failed.client is None  # the code's sentence: the generic one
    assert for_code(failed.code, SliceJobs.failed_message) is texts.FAILED
    # a crash (a class name for a code) gets the slice kind's generic sentence, not generation's
    assert for_code("ZeroDivisionError", SliceJobs.failed_message) is texts.FAILED


def test_a_flat_mesh_is_refused_with_a_catalogue_reason() -> None:
    flat = trimesh.Trimesh(
        vertices=[[0, 0, 0], [10, 0, 0], [0, 10, 0], [10, 10, 0]], faces=[[0, 1, 2], [1, 3, 2]]
    )
    data = flat.export(file_type="stl")
    assert isinstance(data, bytes)
    bed = Bed(width_mm=250, depth_mm=210, height_mm=210)
    with pytest.raises(UnprintableMesh) as refused:
        prepare(data, "stl", size=PrintSize(), bed=bed, default_size_mm=100)
    reason = refused.value.reason
    assert isinstance(reason, Text)
    assert reason.message is texts.REASON_FLAT
    assert str(refused.value).startswith("the model is flat (its sides measure 10 × 10 × 0 mm)")
