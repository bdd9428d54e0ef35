"""Names in Chinese text, by a few general rules (no dictionary, no model).

Chinese puts no space or capital letter around a name, so the rules look at what stands
around one:

* a speaker label ("张三：我明天去北京", :func:`memvault.core.text.speakers.speaker_of`);
* a family name and a title ("王先生", "李老师", "陈医生");
* what follows a word that introduces a person or a pet by name ("名叫李雷", "叫旺财") or a
  relation ("我的朋友彼得是蜘蛛侠", "同事小王说"): the characters up to the next function
  character (:data:`memvault.analysis.CJK_BREAKS`) or punctuation, three of them when the
  first is a common family name ("李小红"), else two ("彼得", "小王"): most Chinese names
  are a family name and one or two characters.

Names are returned as written, in order of first appearance.
"""

from __future__ import annotations

import re

from memvault.analysis import CJK_BREAKS

__all__ = ["cjk_names"]

_HAN = "\u3400-\u4dbf\u4e00-\u9fff"
_BREAKS = "".join(sorted(CJK_BREAKS))
#: The most common family names (about 85 % of China's population), one character each.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤"
)
_TITLES = "先生|女士|小姐|太太|老师|医生|大夫|教授|经理|总监|律师|博士|师傅|阿姨|叔叔"
_TITLED = re.compile(f"([{_SURNAMES}](?:{_TITLES}))")
#: Words after which a name follows: "called", "named", and relations.
_INTRODUCERS = (
    "名叫|叫做|叫|名字是|朋友|同事|同学|老板|上司|经理|室友|邻居|妻子|老婆|丈夫|老公|男朋友|"
    "女朋友|儿子|女儿|哥哥|姐姐|弟弟|妹妹|妈妈|爸爸|母亲|父亲|爷爷|奶奶|外婆|外公|表哥|表姐|"
    "堂哥|客户|医生|老师|教练|分析员|工程师"
)
_INTRODUCED = re.compile(
    f"(?:{_INTRODUCERS})(?!{_INTRODUCERS})((?:(?![{_BREAKS}])[{_HAN}]){{2,3}})")


def cjk_names(text: str, label: str | None = None) -> list[str]:
    """The Chinese names in ``text`` by the module's rules; ``label`` is the memory's speaker
    label when it has one."""
    found: dict[str, None] = {}
    if label is not None and label[:1] and "\u3400" <= label[0] <= "\u9fff":
        found[label] = None
    for match in _TITLED.finditer(text):
        found.setdefault(match.group(1), None)
    for match in _INTRODUCED.finditer(text):
        run = match.group(1)
        found.setdefault(run if run[0] in _SURNAMES else run[:2], None)
    return list(found)
