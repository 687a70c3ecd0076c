"""Synthetic claims generator: separated families, parent claims, child claims and the truth.

``python -m reunite.matching.generate --parents N --children M --seed S --out claims.jsonl
--truth truth.csv [--no-child-dob]``

Families are Western–Japanese (the Western parent files, the child grew up in Japan),
Japanese–Japanese, or Japanese–Western (the child grew up abroad). Names are as common as
in life: 佐藤 is ~1.6 % of Japanese people, the ten commonest surnames ~8 % (Japan: 1.5 %
and ~10 %), over ~110 real surnames and a long tail of compound ones (北島, 高野); given
names are built from common first and second elements (健+太, 美+咲), so many spellings
share a reading and the commonest reading is ~2 % of a generation; Western surnames run
from Smith (~1 %) into a tail of English compounds (Ashford). Names are written in
kanji (with variant kanji for the same reading), kana, Latin (Hepburn with/without
macrons, passport ``oh``, Kunrei, word-processor spellings) or katakana for Western
names. Child claims carry the child's changed surname, partial or wrong dates,
nicknames, typos and missing fields. About a third of child claims come from families
without a parent claim, many of them *look-alike* families (same surnames, same child
given name, same birth year and birthplace) that differ only in the parents' given names
and the exact birth date.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

from reunite.matching.normalise import kana_to_romaji

JP_SURNAMES = (
    "佐藤:さとう 鈴木:すずき 高橋:たかはし 田中:たなか 伊藤:いとう 渡辺:わたなべ 山本:やまもと "
    "中村:なかむら 小林:こばやし 加藤:かとう 吉田:よしだ 山田:やまだ 佐々木:ささき 山口:やまぐち "
    "松本:まつもと 井上:いのうえ 木村:きむら 林:はやし 斎藤:さいとう 清水:しみず 山崎:やまざき 森:もり "
    "池田:いけだ 橋本:はしもと 阿部:あべ 石川:いしかわ 山下:やました 中島:なかじま 石井:いしい "
    "小川:おがわ 前田:まえだ 岡田:おかだ 長谷川:はせがわ 藤田:ふじた 後藤:ごとう 近藤:こんどう "
    "村上:むらかみ 遠藤:えんどう 青木:あおき 坂本:さかもと 斉藤:さいとう 福田:ふくだ 太田:おおた "
    "西村:にしむら 藤井:ふじい 金子:かねこ 岡本:おかもと 藤原:ふじわら 中野:なかの 三浦:みうら "
    "原田:はらだ 中川:なかがわ 松田:まつだ 竹内:たけうち 小野:おの 田村:たむら 中山:なかやま "
    "和田:わだ 石田:いしだ 森田:もりた 上田:うえだ 原:はら 内田:うちだ 柴田:しばた 酒井:さかい "
    "宮崎:みやざき 横山:よこやま 高木:たかぎ 安藤:あんどう 宮本:みやもと 大野:おおの 小島:こじま "
    "工藤:くどう 谷口:たにぐち 今井:いまい 高田:たかだ 丸山:まるやま 増田:ますだ 杉山:すぎやま "
    "村田:むらた 大塚:おおつか 小山:こやま 平野:ひらの 藤本:ふじもと 東海林:しょうじ 大橋:おおはし "
    "河野:こうの 伊東:いとう 加納:かのう 上野:うえの 菅原:すがわら 新井:あらい 千葉:ちば 久保:くぼ "
    "松井:まつい 岩崎:いわさき 桜井:さくらい 野口:のぐち 大西:おおにし 菊地:きくち 服部:はっとり "
    "本間:ほんま 新田:にった 城:じょう 大内:おおうち 野村:のむら 松尾:まつお 菅野:かんの 広瀬:ひろせ"
)
GIRLS = (
    "ゆき:由紀,由貴,優希,雪,ゆき さくら:さくら,桜,咲良 ひな:陽菜,日菜,ひな ゆい:結衣,由依,唯 "
    "あおい:葵,蒼 りん:凛,凜 めい:芽依,芽衣 えま:恵麻,咲茉,えま はな:花,華,はな みお:美桜,澪 "
    "ゆな:結菜,優奈 ことね:琴音 かな:佳奈,香奈 まい:舞,麻衣 あやか:彩花 なつき:夏希 "
    "みゆ:美結,心優 ひかり:光,ひかり あいこ:愛子 りこ:莉子,理子 みく:未来,美玖 ありさ:有紗 "
    "なおみ:直美,ナオミ えりか:恵理香,エリカ まりあ:茉莉亜,マリア かりん:花梨 のぞみ:希美 "
    "ちはる:千晴 あかり:朱里,灯 ももか:桃花 ゆうな:夕奈 しおり:栞 みさき:美咲 まなみ:愛美 "
    "かえで:楓 すず:鈴 つむぎ:紬 いろは:彩葉 こはる:小春 ほのか:穂乃果 あんな:杏奈 ちさと:千里 "
    "まお:真央 なな:奈々 ゆず:柚 あすか:明日香 れいな:玲奈 さき:早紀,咲 ここな:心菜 あみ:亜美"
)
BOYS = (
    "はると:陽翔,大翔 そうた:颯太,蒼太 ゆうと:悠人,優斗 はるき:陽輝 りく:陸 れん:蓮 ゆうま:悠真 "
    "そうま:颯真 たくみ:拓海,匠 けんた:健太 しょうた:翔太 だいき:大輝 ひろと:大翔,浩人 "
    "こうき:光希,晃輝 かいと:海斗 たいが:大河 りょう:涼,亮 けん:健,ケン じゅん:潤,純 "
    "なおき:直樹 まさと:将人 ゆうき:勇気,祐樹 しょう:翔 かい:海,カイ じょうじ:譲二,ジョージ "
    "れお:玲央,レオ たける:武 だいち:大地 こうた:康太 ゆうた:優太 "
    "そうすけ:蒼介 はやと:隼人 いつき:樹 あさひ:朝陽 みなと:湊 ゆいと:結斗 あらた:新 "
    "しゅん:駿 こうへい:公平 りょうた:亮太 ひなた:陽向 かずき:一輝 たいち:太一 "
    "けいた:啓太 しんや:慎也 ともき:友樹 まさき:正樹 ゆきと:幸人 りゅうせい:流星 そら:空"
)
JP_WOMEN = (
    "あいこ:愛子 けいこ:恵子 ゆうこ:裕子 みか:美香 ようこ:陽子 なおみ:直美 ゆみ:由美 まゆみ:真由美 "
    "ともこ:智子 くみこ:久美子 あけみ:明美 かおり:香織 えみ:恵美 あさみ:麻美 あや:綾 りえ:理恵 "
    "みほ:美穂 ちひろ:千尋 さなえ:早苗 じゅんこ:純子 ゆき:由紀 まき:真紀 さちこ:幸子 のりこ:典子"
)
JP_MEN = (
    "けんいち:健一 まこと:誠 ひろし:浩 だいすけ:大輔 けんたろう:健太郎 なおき:直樹 たくや:拓也 "
    "つよし:剛 たかし:隆 かずや:和也 りょう:亮 たつや:達也 しょう:翔 まなぶ:学 おさむ:修 "
    "ともや:智也 ゆういち:雄一 てつや:哲也 こうじ:浩二 ひでき:秀樹 しんじ:真司 じゅん:潤 "
    "こういち:浩一 しゅうへい:修平"
)
W_MEN = (
    "John:ジョン Michael:マイケル David:デイヴィッド,デビッド James:ジェームズ,ジェイムズ "
    "Robert:ロバート William:ウィリアム Thomas:トーマス,トマス Christopher:クリストファー "
    "Daniel:ダニエル Matthew:マシュー Paul:ポール Mark:マーク Peter:ピーター Richard:リチャード "
    "Andrew:アンドリュー Steven:スティーブン,スティーヴン Brian:ブライアン Kevin:ケビン,ケヴィン "
    "Eric:エリック Jean:ジャン Pierre:ピエール Marco:マルコ Lucas:ルーカス Patrick:パトリック "
    "George:ジョージ Charles:チャールズ Anthony:アンソニー Joseph:ジョセフ Scott:スコット "
    "Ryan:ライアン Jason:ジェイソン Timothy:ティモシー Sean:ショーン Frank:フランク "
    "Adam:アダム Alan:アラン Albert:アルバート Alexander:アレクサンダー Benjamin:ベンジャミン "
    "Bruce:ブルース Carl:カール Craig:クレイグ Dennis:デニス Donald:ドナルド Douglas:ダグラス "
    "Edward:エドワード Gary:ゲイリー,ゲーリー Gregory:グレゴリー Harold:ハロルド Henry:ヘンリー "
    "Jack:ジャック Jacob:ジェイコブ Jeffrey:ジェフリー Jeremy:ジェレミー Jonathan:ジョナサン "
    "Justin:ジャスティン Keith:キース Kenneth:ケネス Larry:ラリー Luke:ルーク Martin:マーティン "
    "Nathan:ネイサン Nicholas:ニコラス Philip:フィリップ Raymond:レイモンド Roger:ロジャー "
    "Ronald:ロナルド Samuel:サミュエル Simon:サイモン Victor:ビクター,ヴィクター Walter:ウォルター "
    "Wayne:ウェイン Aaron:アーロン Adrian:エイドリアン Hans:ハンス Klaus:クラウス Luca:ルカ "
    "Nicolas:ニコラ Carlos:カルロス Miguel:ミゲル Gordon:ゴードン Ian:イアン Neil:ニール "
    "Graham:グレアム Stuart:スチュアート Russell:ラッセル Howard:ハワード Vincent:ヴィンセント,ビンセント "
    "Frederick:フレデリック Kyle:カイル Sebastian:セバスチャン Tobias:トビアス"
)
W_WOMEN = (
    "Mary:メアリー,メアリ Jennifer:ジェニファー Sarah:サラ Jessica:ジェシカ Emily:エミリー "
    "Elizabeth:エリザベス Laura:ローラ Anna:アンナ Rachel:レイチェル Catherine:キャサリン "
    "Emma:エマ Claire:クレア Sophie:ソフィー Marie:マリー Julia:ジュリア Amy:エイミー Lisa:リサ "
    "Karen:カレン Nicole:ニコル Hannah:ハンナ Michelle:ミシェル Susan:スーザン Linda:リンダ "
    "Alice:アリス Amanda:アマンダ Angela:アンジェラ Barbara:バーバラ Betty:ベティ Carol:キャロル "
    "Caroline:キャロライン Christina:クリスティーナ Deborah:デボラ Diana:ダイアナ Donna:ドナ "
    "Ellen:エレン Helen:ヘレン Heather:ヘザー Jane:ジェーン Janet:ジャネット Joanna:ジョアンナ "
    "Julie:ジュリー Kimberly:キンバリー Lucy:ルーシー Margaret:マーガレット Melissa:メリッサ "
    "Monica:モニカ Natalie:ナタリー Patricia:パトリシア Rebecca:レベッカ Ruth:ルース "
    "Samantha:サマンサ Sandra:サンドラ Stephanie:ステファニー Teresa:テレサ "
    "Victoria:ヴィクトリア,ビクトリア Wendy:ウェンディ Isabelle:イザベル Camille:カミーユ "
    "Sabine:ザビーネ Petra:ペトラ Francesca:フランチェスカ Lucia:ルチア Elena:エレナ "
    "Carmen:カルメン Fiona:フィオナ Gemma:ジェマ Megan:メーガン Lauren:ローレン Ashley:アシュリー "
    "Andrea:アンドレア Tina:ティナ Joan:ジョーン"
)
W_KIDS_F = (
    "Emma Olivia Sophia Mia Lily Chloe Grace Lucy Alice Ella Hannah Anna Naomi Erika Maria Amelia "
    "Charlotte Ruby Emily Sophie Rose Julia Clara Nina Sara Leah Hana Mina Rina Eva Mila Luna Stella "
    "Jasmine Amy Maya Elena Erin Karen"
)
W_KIDS_M = (
    "Noah Liam Ethan Lucas Oliver Leo Max Ben Jack Sam Daniel Alexander Thomas Henry Kai William "
    "James Benjamin Adam Ryan Dylan Owen Luke Joshua Nathan Ken Joe Sean Eric Justin Aaron Hugo Felix "
    "Oscar Arthur Julian Elliot Jonah Isaac"
)
KIDS_KATA = {
    "Emma": "エマ", "Olivia": "オリビア,オリヴィア", "Sophia": "ソフィア", "Mia": "ミア", "Lily": "リリー",
    "Chloe": "クロエ", "Grace": "グレース", "Lucy": "ルーシー", "Alice": "アリス", "Ella": "エラ",
    "Hannah": "ハンナ", "Anna": "アンナ", "Naomi": "ナオミ", "Erika": "エリカ", "Maria": "マリア",
    "Noah": "ノア", "Liam": "リアム", "Ethan": "イーサン", "Lucas": "ルーカス", "Oliver": "オリバー",
    "Leo": "レオ", "Max": "マックス", "Ben": "ベン", "Jack": "ジャック", "Sam": "サム",
    "Daniel": "ダニエル", "Alexander": "アレクサンダー", "Thomas": "トーマス", "Henry": "ヘンリー",
    "Kai": "カイ", "Amelia": "アメリア", "Charlotte": "シャーロット", "Ruby": "ルビー",
    "Emily": "エミリー", "Sophie": "ソフィー", "Rose": "ローズ", "Julia": "ジュリア", "Clara": "クララ",
    "Nina": "ニーナ", "Sara": "サラ", "Leah": "リア", "Hana": "ハナ", "Mina": "ミナ", "Rina": "リナ",
    "Eva": "エヴァ,エバ", "Mila": "ミラ", "Luna": "ルナ", "Stella": "ステラ", "Jasmine": "ジャスミン",
    "Amy": "エイミー", "Maya": "マヤ", "Elena": "エレナ", "Erin": "エリン", "Karen": "カレン",
    "William": "ウィリアム", "James": "ジェームズ", "Benjamin": "ベンジャミン", "Adam": "アダム",
    "Ryan": "ライアン", "Dylan": "ディラン", "Owen": "オーウェン", "Luke": "ルーク", "Joshua": "ジョシュア",
    "Nathan": "ネイサン", "Ken": "ケン", "Joe": "ジョー", "Sean": "ショーン", "Eric": "エリック",
    "Justin": "ジャスティン", "Aaron": "アーロン", "Hugo": "ヒューゴ", "Felix": "フェリックス",
    "Oscar": "オスカー", "Arthur": "アーサー", "Julian": "ジュリアン", "Elliot": "エリオット",
    "Jonah": "ジョナ", "Isaac": "アイザック",
}  # fmt: skip
W_SURNAMES = (
    "Smith:スミス Johnson:ジョンソン Williams:ウィリアムズ,ウィリアムス Brown:ブラウン Jones:ジョーンズ "
    "Miller:ミラー Davis:デイビス,デイヴィス Wilson:ウィルソン Taylor:テイラー Anderson:アンダーソン "
    "Thomas:トーマス Moore:ムーア Martin:マーティン Clark:クラーク Lewis:ルイス Walker:ウォーカー "
    "Young:ヤング Hall:ホール Wright:ライト King:キング Green:グリーン Baker:ベイカー,ベーカー "
    "Adams:アダムズ,アダムス Nelson:ネルソン Hill:ヒル Campbell:キャンベル Mitchell:ミッチェル "
    "Roberts:ロバーツ Carter:カーター Phillips:フィリップス Evans:エヴァンズ,エバンス Turner:ターナー "
    "Parker:パーカー Collins:コリンズ Edwards:エドワーズ Stewart:スチュワート Murphy:マーフィー "
    "Cook:クック Rogers:ロジャース Morgan:モーガン Cooper:クーパー Müller:ミュラー Schmidt:シュミット "
    "Dubois:デュボワ Bernard:ベルナール Rossi:ロッシ Garcia:ガルシア Lopez:ロペス Kelly:ケリー"
)
NICKNAMES = {
    "Michael": ("Mike", "マイク"), "William": ("Bill", "ビル"), "Robert": ("Bob", "ボブ"),
    "Thomas": ("Tom", "トム"), "Christopher": ("Chris", "クリス"), "Daniel": ("Dan", "ダン"),
    "Matthew": ("Matt", "マット"), "Elizabeth": ("Liz", "リズ"), "Catherine": ("Kate", "ケイト"),
    "Jennifer": ("Jenny", "ジェニー"), "Anthony": ("Tony", "トニー"), "Joseph": ("Joe", "ジョー"),
    "Steven": ("Steve", "スティーブ"), "Andrew": ("Andy", "アンディ"), "James": ("Jim", "ジム"),
    "David": ("Dave", "デイブ"), "Timothy": ("Tim", "ティム"),
}  # fmt: skip
W_CITIES = (
    "US:Seattle:シアトル;US:New York:ニューヨーク;US:Los Angeles:ロサンゼルス;"
    "US:San Francisco:サンフランシスコ;US:Boston:ボストン;US:Chicago:シカゴ;US:Honolulu:ホノルル;"
    "GB:London:ロンドン;GB:Manchester:マンチェスター;AU:Sydney:シドニー;AU:Melbourne:メルボルン;"
    "CA:Toronto:トロント;CA:Vancouver:バンクーバー;FR:Paris:パリ;FR:Lyon:リヨン;DE:Berlin:ベルリン;"
    "NZ:Auckland:オークランド;IT:Rome:ローマ;ES:Madrid:マドリード"
)
JP_CITIES = (
    "東京:Tokyo 大阪:Osaka 名古屋:Nagoya 横浜:Yokohama 札幌:Sapporo 福岡:Fukuoka 神戸:Kobe "
    "京都:Kyoto 仙台:Sendai 広島:Hiroshima 川崎:Kawasaki 千葉:Chiba 静岡:Shizuoka 那覇:Naha"
)


def _pairs(spec: str) -> list[tuple[str, list[str]]]:
    out = []
    for item in spec.split():
        head, _, tail = item.partition(":")
        out.append((head, tail.split(",")))
    return out


SURNAMES = [(k, v[0]) for k, v in _pairs(JP_SURNAMES)]
WEST_MEN = _pairs(W_MEN)
WEST_WOMEN = _pairs(W_WOMEN)
WEST_CITIES: list[tuple[str, str, str]] = [
    (c.split(":")[0], c.split(":")[1], c.split(":")[2]) for c in W_CITIES.split(";")
]
JAPAN_CITIES = [(c.split(":")[0], c.split(":")[1]) for c in JP_CITIES.split()]


# A long tail of rarer surnames built from common first and second elements (高野, 北島...),
# with rendaku where Japanese has it; real surnames are far more diverse than the top list.
_FIRST = (
    "高:たか 中:なか 小:こ 大:おお 山:やま 石:いし 松:まつ 藤:ふじ 森:もり 岡:おか 前:まえ 西:にし "
    "北:きた 長:なが 今:いま 宮:みや 竹:たけ 吉:よし 平:ひら 野:の 浅:あさ 宇:う 江:え 荒:あら "
    "黒:くろ 白:しら 杉:すぎ 菊:きく 梅:うめ 桑:くわ 柳:やなぎ 星:ほし 金:かな 滝:たき 熊:くま "
    "福:ふく 岩:いわ 片:かた 坂:さか 東:ひがし 南:みなみ 安:やす 堀:ほり 千:ち 市:いち 内:うち 稲:いな"
)
_SECOND = (
    "田:た/だ 野:の 川:かわ/がわ 山:やま 本:もと 村:むら 井:い 島:しま/じま 木:き/ぎ 原:はら/わら "
    "口:ぐち 崎:さき/ざき 沢:さわ/ざわ 谷:たに/や 部:べ 浦:うら 尾:お 瀬:せ 岸:ぎし 畑:はた/ばた"
)


def _compound_surnames() -> list[tuple[str, str]]:
    top = {k for k, _ in SURNAMES}
    out: list[tuple[str, str]] = []
    for first in _FIRST.split():
        fk, fr = first.split(":")
        for second in _SECOND.split():
            sk, readings = second.split(":")
            rs = readings.split("/")
            name = fk + sk
            if name in top or fk == sk:
                continue
            out.append((name, fr + rs[0]))
    return out


def _zipf(n: int, s: float) -> list[float]:
    return [1 / (r + 1) ** s for r in range(n)]


def _cumulative(weights: list[float]) -> list[float]:
    return list(itertools.accumulate(weights))


# Given names are built the way most Japanese names are: a first element and a second, each
# with a reading it takes in names (健+太 = けんた, 美+咲 = みさき). Many spellings share a
# reading (悠人, 優斗, 雄人 = ゆうと), as in life.
_MALE_FIRST = (
    "健:けん 大:だい 翔:しょう 拓:たく 和:かず 浩:こう 直:なお 雄:ゆう 悠:ゆう 優:ゆう 達:たつ 哲:てつ "
    "信:しん 秀:ひで 正:まさ 雅:まさ 隆:たか 貴:たか 智:とも 友:とも 俊:とし 康:やす 義:よし 光:こう "
    "竜:りゅう 勇:ゆう 修:しゅう 亮:りょう 純:じゅん 剛:たけ 克:かつ 勝:かつ 慎:しん 宏:ひろ 博:ひろ "
    "裕:ひろ 明:あき 英:ひで 恭:きょう 孝:たか 誠:せい 賢:けん 昌:まさ 幸:こう 晃:こう 真:しん 啓:けい "
    "圭:けい 祐:ゆう 龍:りゅう 将:しょう 駿:しゅん 颯:そう 蒼:そう 陽:はる 春:はる 一:かず 晴:はる"
)
_MALE_SECOND = (
    "一:いち 二:じ 太:た 介:すけ 輔:すけ 人:と 斗:と 也:や 哉:や 樹:き 輝:き 士:し 司:じ 平:へい "
    "吾:ご 郎:ろう 太郎:たろう 之:ゆき 彦:ひこ 夫:お 雄:お 志:し 治:じ 真:ま 希:き"
)
_FEMALE_FIRST = (
    "美:み 愛:あい 優:ゆう 結:ゆ 陽:ひ 花:はな 彩:あや 真:ま 由:ゆ 千:ち 沙:さ 紗:さ 明:あ 佳:か "
    "奈:な 里:り 菜:な 麻:ま 亜:あ 理:り 恵:え 絵:え 早:さ 夏:なつ 七:なな 友:とも 智:とも 知:ち 裕:ゆう "
    "有:ゆ 舞:ま 瑞:みず 晴:はる 春:はる 桃:もも 香:か 杏:あん 詩:し 心:ここ 琴:こと 紀:のり 典:のり "
    "直:なお 尚:なお 久:く 幸:さち 咲:さ 玲:れい 怜:れい 未:み 実:み"
)
_FEMALE_SECOND = (
    "子:こ 美:み 香:か 花:か 菜:な 奈:な 希:き 紀:き 衣:い 依:い 穂:ほ 帆:ほ 里:り 莉:り 音:ね "
    "乃:の 恵:え 絵:え 佳:か 華:か 枝:え 代:よ 世:よ 歩:ほ 咲:さき 月:つき 波:なみ 葉:は 羽:は"
)


def _compound_given(first: str, second: str, seed: int) -> list[tuple[str, str]]:
    """(kanji, kana) for every first×second pair, in a fixed pseudo-random popularity order."""
    out = [
        (fk + sk, fr + sr)
        for fk, fr in (x.split(":") for x in first.split())
        for sk, sr in (x.split(":") for x in second.split())
        if fk != sk
    ]
    random.Random(seed).shuffle(out)  # nosec B311  # a fixed order, not a secret
    return out


# Western surnames beyond the common ones: English place-name compounds (Ashford, Blackwood,
# Hartley), written in katakana by their parts.
_W_FIRST = (
    "Ash:アッシュ Black:ブラック Brad:ブラッド Brook:ブルック Clay:クレイ Cole:コール Dal:ダル "
    "East:イースト Elm:エルム Fair:フェア Fox:フォックス Gold:ゴールド Green:グリーン Ham:ハム "
    "Hart:ハート King:キング Lang:ラング Lock:ロック Marsh:マーシュ Mid:ミッド Mill:ミル New:ニュー "
    "North:ノース Oak:オーク Red:レッド Rich:リッチ Rock:ロック Row:ロウ South:サウス Stan:スタン "
    "Stone:ストーン Thorn:ソーン West:ウェスト White:ホワイト Wood:ウッド Bright:ブライト Wind:ウィンド "
    "Hay:ヘイ Long:ロング Shep:シェップ Win:ウィン"
)
_W_SECOND = (
    "ton:トン ley:リー ford:フォード field:フィールド wood:ウッド well:ウェル man:マン by:ビー "
    "ham:ハム worth:ワース brook:ブルック ridge:リッジ stone:ストーン more:モア wick:ウィック "
    "hurst:ハースト dale:デール land:ランド shaw:ショー bury:ベリー"
)


def _compound_west_surnames(known: set[str]) -> list[tuple[str, list[str]]]:
    out = []
    for first in _W_FIRST.split():
        fl, fk = first.split(":")
        for second in _W_SECOND.split():
            sl, sk = second.split(":")
            name = fl + sl
            if fl.lower() == sl or name in known:
                continue
            out.append((name, [fk + sk]))
    random.Random(3).shuffle(out)  # nosec B311  # a fixed order, not a secret
    return out


def _given_pool(curated: list[tuple[str, list[str]]], compounds: list[tuple[str, str]]) -> list[tuple[str, list[str]]]:
    """The curated (popular) readings first, then the compounds, merged by reading."""
    pool: dict[str, list[str]] = {kana: list(forms) for kana, forms in curated}
    for kanji, kana in compounds:
        forms = pool.setdefault(kana, [])
        if kanji not in forms:
            forms.append(kanji)
    return list(pool.items())


TAIL_SURNAMES = _compound_surnames()
ALL_SURNAMES = SURNAMES + TAIL_SURNAMES
#: Surname frequencies fall as rank^-0.5 over ~1,000 names: 佐藤 ~1.6 %, the top ten ~8 %,
#: the top hundred ~30 % (Japan: 1.5 %, ~10 %, ~33 %). Two random people share a surname
#: about once in 500 draws, roughly what Japan's figures imply; the rarest tail names are
#: still commoner than real rare names, so chance collisions stay somewhat likelier than in
#: life.
SURNAME_CUM = _cumulative(_zipf(len(ALL_SURNAMES), 0.5))
_COMMON_WEST_SURNAMES = _pairs(W_SURNAMES)
WEST_SURNAMES = _COMMON_WEST_SURNAMES + _compound_west_surnames({k for k, _ in _COMMON_WEST_SURNAMES})
#: Smith ~1 % (US: 0.8 %) and a long tail.
WEST_SURNAME_CUM = _cumulative(_zipf(len(WEST_SURNAMES), 0.4))
#: Parents' given names: the curated list first, then compounds; the commonest reading is
#: about 2 % of people of a sex (one pair in ~270 shares a reading), the rest falls as rank^-0.5.
MEN = [(forms[0], kana) for kana, forms in _given_pool(_pairs(JP_MEN), _compound_given(_MALE_FIRST, _MALE_SECOND, 1))]
WOMEN = [
    (forms[0], kana) for kana, forms in _given_pool(_pairs(JP_WOMEN), _compound_given(_FEMALE_FIRST, _FEMALE_SECOND, 2))
]
MEN_CUM = _cumulative(_zipf(len(MEN), 0.5))
WOMEN_CUM = _cumulative(_zipf(len(WOMEN), 0.5))
#: Children's given names: today's popular names first, then compounds.
BOY_NAMES = _given_pool(_pairs(BOYS), _compound_given(_MALE_FIRST, _MALE_SECOND, 4))
GIRL_NAMES = _given_pool(_pairs(GIRLS), _compound_given(_FEMALE_FIRST, _FEMALE_SECOND, 5))
_BOY_W, _GIRL_W = _zipf(len(BOY_NAMES), 0.5), _zipf(len(GIRL_NAMES), 0.5)
BOY_CUM, GIRL_CUM = _cumulative(_BOY_W), _cumulative(_GIRL_W)
#: How common each child's given name (reading) is, by sex: look-alikes are drawn by it.
_KIDS_SHARE = {
    sex: {kana: w / total for (kana, _forms), w in zip(pool, weights, strict=True)}
    for sex, pool, weights, total in (("F", GIRL_NAMES, _GIRL_W, GIRL_CUM[-1]), ("M", BOY_NAMES, _BOY_W, BOY_CUM[-1]))
}
_W_KIDS_SHARE = {"F": 1 / len(W_KIDS_F.split()), "M": 1 / len(W_KIDS_M.split())}
_SHARE_MAX = max(*(max(v.values()) for v in _KIDS_SHARE.values()), *_W_KIDS_SHARE.values())


def _name_share(c: Child) -> float:
    """How common a child's given name is among children of that sex (Japanese reading, else Western name)."""
    if c.jp_given:
        return _KIDS_SHARE[c.sex][c.jp_given[1]]
    return _W_KIDS_SHARE[c.sex]


@dataclass
class Parent:
    """A parent as they really are."""

    is_japanese: bool
    sex: str
    nationality: str
    family: str  # kanji or Latin
    family_reading: str  # kana (Japanese) or katakana (Western)
    given: str
    given_reading: str


@dataclass
class Child:
    """A child as they really are."""

    ref: str
    sex: str
    dob: tuple[int, int, int]
    jp_given: tuple[str, str] | None  # (written form, kana)
    west_given: str | None
    birth_family: str
    birth_family_reading: str
    birth_family_is_japanese: bool
    birth_city: tuple[str, str, str]  # (country, display-latin, display-japanese)


@dataclass
class Family:
    """A separated family."""

    kind: str  # "WJ": Western files, child in Japan; "JJ"; "JW": Japanese files, child abroad
    left: Parent
    taking: Parent
    children: list[Child] = field(default_factory=list)
    separated: tuple[int, int] = (2015, 1)
    last_place: tuple[str, str, str] = ("JP", "Tokyo", "東京")


class Generator:
    """Draws families and renders them as claims with realistic noise."""

    def __init__(self, seed: int, child_dob: bool = True) -> None:
        self.rng = random.Random(seed)  # nosec B311  # seeded on purpose: reproducible synthetic families
        self.keep_child_dob = child_dob

    # -- drawing -------------------------------------------------------------------------
    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def jp_surname(self) -> tuple[str, str]:
        return self.rng.choices(ALL_SURNAMES, cum_weights=SURNAME_CUM)[0]

    def jp_parent(self, sex: str, family: tuple[str, str] | None = None) -> Parent:
        fam = family or self.jp_surname()
        pool, cum = (MEN, MEN_CUM) if sex == "M" else (WOMEN, WOMEN_CUM)
        given = self.rng.choices(pool, cum_weights=cum)[0]
        return Parent(True, sex, "JP", fam[0], fam[1], given[0], given[1])

    def west_parent(self, sex: str) -> Parent:
        pool = WEST_MEN if sex == "M" else WEST_WOMEN
        given, g_kata = self.rng.choice(pool)
        fam, f_kata = self.rng.choices(WEST_SURNAMES, cum_weights=WEST_SURNAME_CUM)[0]
        nat = self.rng.choice(["US", "US", "US", "GB", "AU", "CA", "FR", "DE", "NZ", "IT"])
        return Parent(False, sex, nat, fam, self.rng.choice(f_kata), given, self.rng.choice(g_kata))

    def jp_given(self, sex: str) -> tuple[str, str]:
        pool, cum = (GIRL_NAMES, GIRL_CUM) if sex == "F" else (BOY_NAMES, BOY_CUM)
        kana, forms = self.rng.choices(pool, cum_weights=cum)[0]
        return self.rng.choice(forms), kana

    def family(self) -> Family:
        r = self.rng.random()
        kind = "WJ" if r < 0.55 else ("JJ" if r < 0.8 else "JW")
        left_sex = "M" if self.chance(0.75) else "F"
        taking_sex = "F" if left_sex == "M" else "M"
        if kind == "WJ":
            left, taking = self.west_parent(left_sex), self.jp_parent(taking_sex)
        elif kind == "JJ":
            left, taking = self.jp_parent(left_sex), self.jp_parent(taking_sex)
        else:
            left, taking = self.jp_parent(left_sex), self.west_parent(taking_sex)
        fam = Family(kind, left, taking)
        n = self.rng.choices([1, 2, 3], [0.6, 0.3, 0.1])[0]
        father = left if left.sex == "M" else taking
        base_year = self.rng.randint(2000, 2020)
        twins = n >= 2 and self.chance(0.12)
        for i in range(n):
            sex = self.rng.choice("FM")
            if twins and i == 1:
                dob = fam.children[0].dob
            else:
                dob = (base_year + 2 * i + self.rng.randint(0, 1), self.rng.randint(1, 12), self.rng.randint(1, 28))
            mixed = kind != "JJ"
            # Siblings never share a given name (a Japanese family register does not allow it),
            # in either language.
            taken_jp = {c.jp_given[1] for c in fam.children if c.jp_given}
            taken_west = {c.west_given for c in fam.children if c.west_given}
            jp = self.jp_given(sex) if (not mixed or self.chance(0.85)) else None
            while jp is not None and jp[1] in taken_jp:
                jp = self.jp_given(sex)
            west = None
            if mixed and (jp is None or self.chance(0.5)):
                pool = (W_KIDS_F if sex == "F" else W_KIDS_M).split()
                west = self.rng.choice(pool)
                while west in taken_west:
                    west = self.rng.choice(pool)
            if kind == "WJ":
                city = self.rng.choice(WEST_CITIES) if self.chance(0.7) else self.jp_city()
            elif kind == "JJ":
                city = self.jp_city()
            else:
                city = self.jp_city() if self.chance(0.7) else self.rng.choice(WEST_CITIES)
            fam.children.append(
                Child(str(i + 1), sex, dob, jp, west, father.family, father.family_reading, father.is_japanese, city)
            )
        youngest = max(c.dob[0] for c in fam.children)
        fam.separated = (min(youngest + self.rng.randint(1, 6), 2025), self.rng.randint(1, 12))
        fam.last_place = self.jp_city() if kind != "JW" else self.rng.choice(WEST_CITIES)
        return fam

    def jp_city(self) -> tuple[str, str, str]:
        kanji, latin = self.rng.choice(JAPAN_CITIES)
        return ("JP", latin, kanji)

    def namesake_source(self, families: list[Family]) -> tuple[Family, Child]:
        """A family and one of its children to give a look-alike, chosen in proportion to
        how common the child's given name is: a common name has many namesakes, a rare
        one few.
        """
        while True:
            fam = self.rng.choice(families)
            child = self.rng.choice(fam.children)
            if self.rng.random() * _SHARE_MAX <= _name_share(child):
                return fam, child

    def lookalike(self, fam: Family, c: Child) -> Family:
        """A different family whose child ``c`` has the same given name, current surname and age.

        The parent the child lives with keeps the surname (so the child's surname is the
        same) but has another given name; the sought parent is somebody else entirely.
        """
        new = self.family()
        new.kind = fam.kind

        def fresh(real: Parent) -> Parent:
            while True:
                other = self.jp_parent(real.sex) if real.is_japanese else self.west_parent(real.sex)
                if other.given != real.given:
                    return other

        new.left = fresh(fam.left)
        new.taking = fresh(fam.taking)
        new.taking.family, new.taking.family_reading = fam.taking.family, fam.taking.family_reading
        father = new.left if new.left.sex == "M" else new.taking
        dob = (c.dob[0] + self.rng.choice([0, 0, 0, 1, -1]), self.rng.randint(1, 12), self.rng.randint(1, 28))
        new.children = [
            Child(
                "1",
                c.sex,
                dob,
                c.jp_given,
                c.west_given,
                father.family,
                father.family_reading,
                father.is_japanese,
                c.birth_city,
            )  # fmt: skip
        ]
        return new

    # -- rendering ------------------------------------------------------------------------
    def romaji(self, kana: str) -> str:
        """A random but plausible romanisation of a kana reading."""
        base = kana_to_romaji(kana)
        style = self.rng.choices(["hepburn", "macron", "passport", "wapuro", "kunrei"], [0.45, 0.15, 0.2, 0.1, 0.1])[0]
        s = base
        if style == "hepburn":
            s = re.sub(r"o[ou]", "o", s).replace("uu", "u")
        elif style == "macron":
            s = re.sub(r"o[ou]", "ō", s).replace("uu", "ū")
        elif style == "passport":
            s = re.sub(r"o[ou](?=[^aeiou]|$)", "oh", s)
            s = re.sub(r"o[ou]", "o", s).replace("uu", "u")
        elif style == "kunrei":
            for a, b in (("shi", "si"), ("chi", "ti"), ("tsu", "tu"), ("fu", "hu"), ("ji", "zi"),
                         ("sh", "sy"), ("ch", "ty"), ("j", "zy")):  # fmt: skip
                s = s.replace(a, b)
            s = re.sub(r"o[ou]", "ô", s).replace("uu", "û")
        if style in ("hepburn", "passport") and self.chance(0.3):
            s = re.sub(r"n(?=[bmp])", "m", s)
        return s[:1].upper() + s[1:]

    def typo(self, s: str) -> str:
        if len(s) < 4:
            return s
        i = self.rng.randint(1, len(s) - 2)
        op = self.rng.choice(["swap", "drop", "double"])
        if op == "swap":
            return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
        if op == "drop":
            return s[:i] + s[i + 1 :]
        return s[:i] + s[i] + s[i:]

    def parent_names(self, p: Parent, by_self: bool, for_japanese_reader: bool) -> list[dict[str, Any]]:
        names: list[dict[str, Any]] = []
        if p.is_japanese:
            if by_self or for_japanese_reader:
                names.append({"family": p.family, "given": p.given})
                if self.chance(0.6):
                    names.append({"family": p.family_reading, "given": p.given_reading, "kind": "reading"})
                if self.chance(0.25):
                    names.append({"family": self.romaji(p.family_reading), "given": self.romaji(p.given_reading)})
            else:
                names.append({"family": self.romaji(p.family_reading), "given": self.romaji(p.given_reading)})
                if self.chance(0.3):
                    names.append({"family": p.family, "given": p.given})
        elif for_japanese_reader and not by_self:
            names.append({"family": p.family_reading, "given": p.given_reading})
        else:
            names.append({"family": p.family, "given": p.given})
        return names

    def date(self, d: tuple[int, int, int]) -> str:
        return f"{d[0]:04d}-{d[1]:02d}-{d[2]:02d}"

    def place(self, c: tuple[str, str, str], japanese_reader: bool, p_city: float = 0.7) -> dict[str, Any]:
        out: dict[str, Any] = {"country": c[0]}
        if self.chance(p_city):
            out["city"] = c[2] if japanese_reader else c[1]
        return out

    def parent_claim(self, fam: Family, claim_id: str) -> dict[str, Any]:
        left, taking = fam.left, fam.taking
        jp_reader = left.is_japanese
        claimant: dict[str, Any] = {
            "names": self.parent_names(left, True, jp_reader),
            "sex": left.sex,
            "nationalities": [left.nationality],
        }
        other: dict[str, Any] = {"names": self.parent_names(taking, False, jp_reader)}
        if self.chance(0.9):
            other["sex"] = taking.sex
        if self.chance(0.6):
            other["nationalities"] = [taking.nationality]
        children = []
        for c in fam.children:
            names: list[dict[str, Any]] = []
            fam_form = (
                c.birth_family if (jp_reader or not c.birth_family_is_japanese) else self.romaji(c.birth_family_reading)
            )
            if jp_reader:
                if c.jp_given:
                    names.append({"family": fam_form, "given": c.jp_given[0]})
                    if self.chance(0.6):
                        names.append({"family": c.birth_family_reading, "given": c.jp_given[1], "kind": "reading"})
                if c.west_given:
                    names.append(
                        {
                            "family": fam_form if not names else c.birth_family_reading,
                            "given": KIDS_KATA[c.west_given].split(",")[0],
                        }
                    )
            else:
                given = " ".join(x for x in (c.west_given, self.romaji(c.jp_given[1]) if c.jp_given else None) if x)
                names.append({"family": fam_form, "given": given})
                if c.jp_given and self.chance(0.3):
                    names.append({"family": taking.family if taking.is_japanese else fam_form, "given": c.jp_given[0]})
            child: dict[str, Any] = {"ref": c.ref, "names": names, "sex": c.sex}
            child["birth_date"] = self.date(c.dob) if self.chance(0.97) else f"{c.dob[0]:04d}-{c.dob[1]:02d}"
            if self.chance(0.6):
                child["birth_place"] = self.place(c.birth_city, jp_reader)
            children.append(child)
        claim: dict[str, Any] = {
            "id": claim_id,
            "role": "parent",
            "claimant": claimant,
            "other_parent": other,
            "children": children,
        }
        if self.chance(0.8):
            claim["separated_on"] = f"{fam.separated[0]:04d}-{fam.separated[1]:02d}"
        if self.chance(0.6):
            claim["last_known_place"] = self.place(fam.last_place, jp_reader)
        claim["languages"] = ["ja"] if jp_reader else ["en"]
        return claim

    def child_dob(self, d: tuple[int, int, int]) -> str | None:
        r = self.rng.random()
        y, m, day = d
        if r < 0.65:
            return self.date(d)
        if r < 0.73:
            return f"{y:04d}"
        if r < 0.78:
            return f"{y:04d}-{m:02d}"
        if r < 0.83 and day <= 12 and day != m:
            return self.date((y, day, m))
        if r < 0.88:
            return self.date((y, m, max(1, min(28, day + self.rng.choice([-1, 1])))))
        if r < 0.90:
            return self.date((y + self.rng.choice([-1, 1]), m, day))
        return None

    def sought_given(self, p: Parent, jp_reader: bool) -> str:
        if p.is_japanese:
            return self.rng.choices(
                [p.given, p.given_reading, self.romaji(p.given_reading)],
                [0.5, 0.3, 0.2] if jp_reader else [0.1, 0.1, 0.8],
            )[0]
        given = p.given
        if given in NICKNAMES and self.chance(0.1):
            nick = NICKNAMES[given]
            return nick[1] if jp_reader else nick[0]
        if jp_reader and self.chance(0.65):
            return p.given_reading
        return self.typo(given) if self.chance(0.04) else given

    def child_claim(self, fam: Family, c: Child, claim_id: str) -> dict[str, Any]:
        left, taking = fam.left, fam.taking
        jp_reader = fam.kind != "JW"
        # the child carries the surname of the parent they grew up with
        cur_fam, cur_reading = (taking.family, taking.family_reading)
        if fam.kind == "JJ" and self.chance(0.3):
            cur_fam, cur_reading = c.birth_family, c.birth_family_reading
        names: list[dict[str, Any]] = []
        if jp_reader:
            given_forms: list[tuple[str, str, str]] = []
            if c.jp_given:
                given_forms.append((c.jp_given[0], c.jp_given[1], self.romaji(c.jp_given[1])))
            if c.west_given and (not c.jp_given or self.chance(0.3)):
                kata = self.rng.choice(KIDS_KATA[c.west_given].split(","))
                given_forms.append((kata, kata, c.west_given))
            for written, kana, latin in given_forms:
                r = self.rng.random()
                if r < 0.15:
                    names.append({"family": self.romaji(cur_reading), "given": latin})
                elif r < 0.25:
                    names.append({"full": f"{cur_fam}{kana}"})
                else:
                    names.append({"family": cur_fam, "given": written})
                    if written != kana and self.chance(0.55):
                        names.append({"family": cur_reading, "given": kana, "kind": "reading"})
            if c.birth_family != cur_fam and self.chance(0.25):
                bf = c.birth_family if c.birth_family_is_japanese else c.birth_family_reading
                names.append({"family": bf, "kind": "birth"})
        else:
            given = " ".join(
                x for x in (c.west_given, self.romaji(c.jp_given[1]) if c.jp_given and self.chance(0.6) else None) if x
            ) or (self.romaji(c.jp_given[1]) if c.jp_given else "")
            names.append(
                {"family": cur_fam if not taking.is_japanese else self.romaji(cur_reading), "given": given or "Kai"}
            )
            if c.birth_family != cur_fam and self.chance(0.25):
                names.append(
                    {
                        "family": self.romaji(c.birth_family_reading) if c.birth_family_is_japanese else c.birth_family,
                        "kind": "birth",
                    }
                )
        claimant: dict[str, Any] = {"names": names}
        if self.chance(0.9):
            claimant["sex"] = c.sex
        dob = self.child_dob(c.dob)
        if dob and self.keep_child_dob:
            claimant["birth_date"] = dob
        if self.chance(0.4):
            claimant["birth_place"] = self.place(c.birth_city, jp_reader, 0.4)
        claim: dict[str, Any] = {"id": claim_id, "role": "child", "claimant": claimant}
        sought: dict[str, Any] = {}
        snames: dict[str, Any] = {}
        if self.chance(0.85):
            snames["given"] = self.sought_given(left, jp_reader)
        if self.chance(0.45):
            if left.is_japanese:
                snames["family"] = (
                    self.rng.choice([left.family, left.family_reading])
                    if jp_reader
                    else self.romaji(left.family_reading)
                )
            else:
                snames["family"] = left.family_reading if jp_reader and self.chance(0.7) else left.family
        if snames:
            sought["names"] = [snames]
        if self.chance(0.7):
            sought["sex"] = left.sex
        if self.chance(0.4):
            sought["nationalities"] = [left.nationality]
        if sought:
            claim["sought_parent"] = sought
        if self.chance(0.65):
            other_names: dict[str, Any] = {}
            fam_name = taking.family
            if self.chance(0.1):
                fam_name = (
                    self.jp_surname()[0] if taking.is_japanese else self.west_parent(taking.sex).family
                )  # remarried
            if taking.is_japanese:
                other_names["family"] = fam_name if jp_reader else self.romaji(taking.family_reading)
                if self.chance(0.75):
                    other_names["given"] = taking.given if jp_reader else self.romaji(taking.given_reading)
            else:
                other_names["family"] = fam_name
                if self.chance(0.75):
                    other_names["given"] = taking.given
            claim["other_parent"] = {"names": [other_names]}
        if self.chance(0.5):
            year = fam.separated[0] + (self.rng.choice([-1, 1]) if self.chance(0.2) else 0)
            claim["separated_on"] = f"{year:04d}"
        if self.chance(0.2):
            claim["last_known_place"] = self.place(fam.last_place, jp_reader)
        claim["languages"] = ["ja"] if jp_reader else ["en"]
        return claim


def generate(
    n_parents: int, n_children: int, seed: int, child_dob: bool = True, unlinked_share: float = 1 / 3
) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """Return (claims, truth links) for ``n_parents`` parent claims and ``n_children`` child claims."""
    gen = Generator(seed, child_dob)
    families = [gen.family() for _ in range(n_parents)]
    claims: list[dict[str, Any]] = [gen.parent_claim(f, f"p-{i + 1}") for i, f in enumerate(families)]
    truth: list[tuple[str, str, str]] = []
    n_unlinked = round(n_children * unlinked_share)
    n_linked = n_children - n_unlinked
    linked_fams = gen.rng.sample(range(n_parents), min(n_parents, n_linked))
    child_claims: list[dict[str, Any]] = []
    k = 0
    for fi in linked_fams:
        fam = families[fi]
        kids = (
            fam.children
            if len(child_claims) + len(fam.children) <= n_linked and gen.chance(0.3)
            else [gen.rng.choice(fam.children)]
        )
        for c in kids:
            if len(child_claims) >= n_linked:
                break
            k += 1
            cid = f"c-{k}"
            child_claims.append(gen.child_claim(fam, c, cid))
            truth.append((cid, f"p-{fi + 1}", c.ref))
        if len(child_claims) >= n_linked:
            break
    # Look-alikes copy families with common surnames only: two unrelated families sharing a
    # rare surname, the child's given name and age would be implausible.
    common = {k for k, _ in SURNAMES[:30]} | {k for k, _ in WEST_SURNAMES[:15]}
    common_families = [f for f in families if f.taking.family in common] or families
    for _ in range(n_unlinked):
        if gen.chance(0.35):
            fam = gen.lookalike(*gen.namesake_source(common_families))
        else:
            fam = gen.family()
        k += 1
        child_claims.append(gen.child_claim(fam, gen.rng.choice(fam.children), f"c-{k}"))
    gen.rng.shuffle(child_claims)
    return claims + child_claims, truth


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parents", type=int, required=True)
    ap.add_argument("--children", type=int, required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--truth", required=True)
    ap.add_argument("--no-child-dob", action="store_true", help="drop every child claim's birth date")
    args = ap.parse_args(argv)
    claims, truth = generate(args.parents, args.children, args.seed, child_dob=not args.no_child_dob)
    with open(args.out, "w", encoding="utf-8") as fh:
        for c in claims:
            fh.write(json.dumps(c, ensure_ascii=False) + "\n")
    with open(args.truth, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["child_claim", "parent_claim", "child_ref"])
        w.writerows(truth)


if __name__ == "__main__":
    main()
