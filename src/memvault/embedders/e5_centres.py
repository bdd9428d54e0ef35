"""Language centring for multilingual-e5: each vector less the mean vector of its script.

A multilingual encoder's vectors carry the language of their text as well as its meaning:
with multilingual-e5, a Chinese query lies closer to every Chinese memory (cosine 0.84-0.89)
than to the English memory that answers it (0.80), so a question in one language never finds
a memory written in another. Subtracting each language's mean vector from the vectors of that
language removes most of this shared component and keeps the meaning (Libovický, Rosa and
Fraser, "On the Language Neutrality of Pre-trained Multilingual Representations", 2020).

The means are those of :data:`REFERENCE`, the same everyday sentences in English, Chinese,
Japanese and Korean, so that the means differ by language and not by topic. They are computed
when the model loads, once for queries (``query: ``) and once for passages (``passage: ``),
since e5 places the two kinds apart. A text's script (:func:`script`) chooses its mean: Kana
for Japanese, Hangul for Korean, other Han for Chinese, and anything else the Latin mean
(English); a mixed text goes by the script most of its letters are in, with a CJK character
counting as a word's worth of letters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np

from memvault.embedders.base import Matrix, normalise

__all__ = ["REFERENCE", "SCRIPTS", "Centres", "script"]

Script = Literal["latin", "han", "kana", "hangul"]
#: The scripts with a mean, in :data:`REFERENCE`'s column order.
SCRIPTS: tuple[Script, ...] = ("latin", "han", "kana", "hangul")

#: The same sentences in English, Chinese, Japanese and Korean.
REFERENCE: tuple[tuple[str, str, str, str], ...] = (
    (
        'The weather will be cold and windy tomorrow.',
        '明天的天气会很冷，风也很大。',
        '明日は寒くて風が強いでしょう。',
        '내일은 춥고 바람이 많이 불 거예요.',
    ),
    (
        'I usually take the bus to work.',
        '我通常坐公交车去上班。',
        '私はたいていバスで通勤します。',
        '저는 보통 버스를 타고 출근해요.',
    ),
    (
        'We had dinner at a small Italian restaurant.',
        '我们在一家小意大利餐馆吃了晚饭。',
        '私たちは小さなイタリア料理店で夕食をとりました。',
        '우리는 작은 이탈리아 식당에서 저녁을 먹었어요.',
    ),
    (
        'Please send me the meeting notes by Monday.',
        '请在周一之前把会议记录发给我。',
        '月曜日までに会議のメモを送ってください。',
        '월요일까지 회의록을 보내 주세요.',
    ),
    (
        'My sister is a nurse at the city hospital.',
        '我姐姐是市医院的护士。',
        '姉は市立病院の看護師です。',
        '제 언니는 시립 병원 간호사예요.',
    ),
    (
        'The train was delayed by forty minutes.',
        '火车晚点了四十分钟。',
        '電車が四十分遅れました。',
        '기차가 사십 분 늦었어요.',
    ),
    (
        'I bought a new laptop last week.',
        '我上周买了一台新笔记本电脑。',
        '先週新しいノートパソコンを買いました。',
        '지난주에 새 노트북을 샀어요.',
    ),
    (
        'She plays the violin in a local orchestra.',
        '她在当地的乐团拉小提琴。',
        '彼女は地元のオーケストラでバイオリンを弾いています。',
        '그녀는 지역 오케스트라에서 바이올린을 연주해요.',
    ),
    (
        'The password must be changed every three months.',
        '密码必须每三个月更换一次。',
        'パスワードは三か月ごとに変更する必要があります。',
        '비밀번호는 석 달마다 바꿔야 해요.',
    ),
    (
        'We are planning a trip to the mountains in summer.',
        '我们计划夏天去山里旅行。',
        '夏に山へ旅行する計画を立てています。',
        '여름에 산으로 여행을 갈 계획이에요.',
    ),
    (
        'He forgot his umbrella at the office.',
        '他把雨伞忘在办公室了。',
        '彼は傘を会社に忘れました。',
        '그는 사무실에 우산을 두고 왔어요.',
    ),
    (
        'The children are learning to swim.',
        '孩子们正在学游泳。',
        '子どもたちは水泳を習っています。',
        '아이들이 수영을 배우고 있어요.',
    ),
    (
        'Our rent goes up next year.',
        '我们的房租明年要涨了。',
        '来年から家賃が上がります。',
        '내년에 월세가 올라요.',
    ),
    (
        "I don't drink coffee after six in the evening.",
        '我晚上六点以后不喝咖啡。',
        '夜六時以降はコーヒーを飲みません。',
        '저녁 여섯 시 이후에는 커피를 마시지 않아요.',
    ),
    (
        'The server restarts automatically every night.',
        '服务器每天晚上自动重启。',
        'サーバーは毎晩自動的に再起動します。',
        '서버는 매일 밤 자동으로 재시작돼요.',
    ),
    (
        'My grandfather grew up in a fishing village.',
        '我爷爷在一个渔村长大。',
        '祖父は漁村で育ちました。',
        '할아버지는 어촌에서 자라셨어요.',
    ),
    (
        'What time does the museum open?',
        '博物馆几点开门？',
        '博物館は何時に開きますか？',
        '박물관은 몇 시에 문을 열어요?',
    ),
    (
        'Where can I buy a ticket?',
        '我在哪里可以买票？',
        '切符はどこで買えますか？',
        '표는 어디에서 살 수 있어요?',
    ),
    (
        'Who is responsible for the budget?',
        '谁负责预算？',
        '予算の担当者は誰ですか？',
        '예산은 누가 담당해요?',
    ),
    (
        'How long does the repair take?',
        '修理需要多长时间？',
        '修理にはどのくらいかかりますか？',
        '수리는 얼마나 걸려요?',
    ),
    (
        'Why was the flight cancelled?',
        '航班为什么被取消了？',
        'なぜフライトは欠航になったのですか？',
        '비행기가 왜 취소됐어요?',
    ),
    (
        'Which book did you recommend to me?',
        '你推荐给我的是哪本书？',
        '私に勧めてくれたのはどの本ですか？',
        '나한테 추천해 준 책이 뭐였어요?',
    ),
    (
        'The bakery on the corner sells fresh bread every morning.',
        '街角的面包店每天早上卖新鲜面包。',
        '角のパン屋は毎朝焼きたてのパンを売っています。',
        '모퉁이 빵집은 매일 아침 갓 구운 빵을 팔아요.',
    ),
    (
        'I have been feeling tired since the holiday.',
        '假期以后我一直觉得很累。',
        '休暇のあとからずっと疲れを感じています。',
        '휴가 이후로 계속 피곤해요.',
    ),
)

_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")
_KANA = re.compile("[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")
#: Letters of a spaced script that weigh as much as one CJK character (an English word
#: averages about five letters, a Chinese one two characters).
_LETTERS_PER_CJK = 2.5


def script(text: str) -> Script:
    """The script most of ``text`` is written in (see the module's rule)."""
    han, kana, hangul = (len(p.findall(text)) for p in (_HAN, _KANA, _HANGUL))
    cjk = han + kana + hangul
    if not cjk:
        return "latin"
    letters = len(_LETTER.findall(text)) - cjk
    if letters > _LETTERS_PER_CJK * cjk:
        return "latin"
    if kana:
        return "kana"
    return "hangul" if hangul > han else "han"


class Centres:
    """The mean query and passage vectors of each script, and vectors centred by them."""

    def __init__(self, encode: Callable[[list[str], bool], Matrix]) -> None:
        """``encode(texts, query)`` embeds texts (unit vectors) as queries or passages."""
        self._means: dict[tuple[Script, bool], Matrix] = {}
        for column, name in enumerate(SCRIPTS):
            texts = [row[column] for row in REFERENCE]
            for query in (True, False):
                self._means[(name, query)] = encode(texts, query).mean(axis=0)

    def centre(self, texts: Sequence[str], vectors: Matrix, *, query: bool) -> Matrix:
        """``vectors`` (one per text) less their script's mean, as unit vectors again."""
        if not len(texts):
            return vectors
        means = np.stack([self._means[(script(text), query)] for text in texts])
        return normalise((vectors - means).astype(np.float32))
