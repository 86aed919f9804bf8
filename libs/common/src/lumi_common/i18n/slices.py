"""What a client reads on a slice that failed (`GET /api/slices/:id`, `errorMessage`): the slice
worker records one of these with `stored`, never the slicer's own output, and the API renders it
in the reader's language. A model that cannot be sliced says why with one of the `REASON_*`
sentences (a fixed set: the worker's mesh checks and the slicer's known refusals).

The English sentences start in lower case: the apps show them after the slice's status."""

from __future__ import annotations

from lumi_common.i18n import Message

# the slice cannot succeed for this model: {reason} is one of the REASON_* sentences below
CANNOT_SLICE = Message(
    "SLICE_CANNOT_SLICE", zh="无法切片此模型：{reason}", en="this model cannot be sliced: {reason}"
)
TIMED_OUT = Message(
    "SLICE_TIMED_OUT",
    zh="切片软件未能在 {seconds} 秒内完成，已被停止",
    en="the slicer did not finish within {seconds} s and was stopped",
)
PROFILE_UNAVAILABLE = Message(
    "SLICE_PROFILE_UNAVAILABLE",
    zh="切片配置“{profile}”已不可用",
    en="the slicing profile '{profile}' is not available",
)
MODEL_GONE = Message(
    "SLICE_MODEL_GONE", zh="此切片的模型已不存在", en="the model of this slice no longer exists"
)
MODEL_FILE_MISSING = Message(
    "SLICE_MODEL_FILE_MISSING",
    zh="找不到此模型可供切片的文件",
    en="the model's file to slice is missing",
)
# anything else (the slicer crashed, could not start, was killed): nothing the user can change
FAILED = Message("SLICE_FAILED", zh="切片失败，请重试。", en="Slicing failed. Please try again.")

# why a model cannot be sliced: the worker's checks of its mesh
REASON_FLAT = Message(
    "SLICE_REASON_FLAT",
    zh="模型是平的（尺寸为 {size} 毫米），没有可打印的体积",
    en="the model is flat (its sides measure {size} mm): it has no volume to print",
)
REASON_TOO_THIN = Message(
    "SLICE_REASON_TOO_THIN",
    zh="模型在 {size} 毫米的尺寸下太薄，无法打印（每条边至少需要 {min_mm} 毫米）",
    en="the model is too thin to print at {size} mm (every side needs at least {min_mm} mm)",
)
REASON_UNREADABLE = Message(
    "SLICE_REASON_UNREADABLE",
    zh="无法将模型文件读取为 {format} 格式",
    en="the model file cannot be read as {format}",
)
REASON_NO_TRIANGLES = Message(
    "SLICE_REASON_NO_TRIANGLES",
    zh="模型文件（{format}）中没有三角面",
    en="the model file has no triangles ({format})",
)
REASON_NOT_NUMBERS = Message(
    "SLICE_REASON_NOT_NUMBERS",
    zh="模型中有不是数字的坐标",
    en="the model has coordinates that are not numbers",
)
# … and the slicer's refusals
REASON_OUT_OF_MEMORY = Message(
    "SLICE_REASON_OUT_OF_MEMORY",
    zh="切片此模型所需的内存超出了允许的上限",
    en="slicing this model needs more memory than the worker allows",
)
REASON_NO_LAYERS = Message(
    "SLICE_REASON_NO_LAYERS",
    zh="切片软件没有找到任何层：模型太薄或太小",
    en="the slicer found no layers: the model is too thin or too small",
)
REASON_DOES_NOT_FIT = Message(
    "SLICE_REASON_DOES_NOT_FIT",
    zh="模型放不进打印平台",
    en="the model does not fit on the print bed",
)
REASON_SLICER_CANNOT_READ = Message(
    "SLICE_REASON_SLICER_CANNOT_READ",
    zh="切片软件无法读取此模型",
    en="the slicer could not read the model",
)
REASON_NO_GCODE = Message(
    "SLICE_REASON_NO_GCODE", zh="切片软件没有生成 G 代码", en="the slicer wrote no G-code"
)
REASON_PRINTS_NOTHING = Message(
    "SLICE_REASON_PRINTS_NOTHING",
    zh="切片软件生成的 G 代码不会打印任何内容",
    en="the slicer produced G-code that prints nothing",
)
