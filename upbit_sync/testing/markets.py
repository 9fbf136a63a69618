"""The markets the fake exchange lists: a built-in snapshot of Upbit's KRW, BTC and USDT markets.

Upbit serves only the markets it lists and ignores any other code silently (docs/upbit.md §2), so
the fake needs a list to ignore typos the way Upbit does. The records carry the fields of
``GET /v1/market/all`` (§7) with the names as Upbit shows them; a coin has the same names in every
quote market. The snapshot follows Upbit's listing of early 2025: markets listed or delisted since
then may be missing or present, which no test should depend on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_CODE = re.compile(r"[A-Z0-9]+-[A-Z0-9]+")  # QUOTE-BASE, upper case (docs/upbit.md §2)


@dataclass(frozen=True)
class Market:
    """One listed market as ``/v1/market/all`` describes it; ``warning`` is its investment warning
    (``market_event.warning`` in the detailed listing)."""

    market: str
    korean_name: str
    english_name: str
    warning: bool = False

    @property
    def quote(self) -> str:
        """The currency prices are quoted in: ``KRW`` for ``KRW-BTC``."""
        return self.market.split("-", 1)[0]

    @property
    def base(self) -> str:
        """The coin traded: ``BTC`` for ``KRW-BTC``."""
        return self.market.split("-", 1)[1]


# Korean and English names per coin, as Upbit shows them.
_NAMES: dict[str, tuple[str, str]] = {
    "BTC": ("비트코인", "Bitcoin"),
    "ETH": ("이더리움", "Ethereum"),
    "XRP": ("리플", "XRP"),
    "SOL": ("솔라나", "Solana"),
    "DOGE": ("도지코인", "Dogecoin"),
    "ADA": ("에이다", "Ada"),
    "TRX": ("트론", "TRON"),
    "LINK": ("체인링크", "Chainlink"),
    "AVAX": ("아발란체", "Avalanche"),
    "DOT": ("폴카닷", "Polkadot"),
    "BCH": ("비트코인캐시", "Bitcoin Cash"),
    "ETC": ("이더리움클래식", "Ethereum Classic"),
    "XLM": ("스텔라루멘", "Lumen"),
    "SHIB": ("시바이누", "Shiba Inu"),
    "SUI": ("수이", "Sui"),
    "NEAR": ("니어프로토콜", "NEAR Protocol"),
    "APT": ("앱토스", "Aptos"),
    "ARB": ("아비트럼", "Arbitrum"),
    "HBAR": ("헤데라", "Hedera"),
    "ATOM": ("코스모스", "Cosmos"),
    "ALGO": ("알고랜드", "Algorand"),
    "UNI": ("유니스왑", "Uniswap"),
    "AAVE": ("에이브", "Aave"),
    "PEPE": ("페페", "Pepe"),
    "BONK": ("봉크", "Bonk"),
    "ONDO": ("온도파이낸스", "Ondo Finance"),
    "SEI": ("세이", "Sei"),
    "STX": ("스택스", "Stacks"),
    "INJ": ("인젝티브", "Injective"),
    "IMX": ("이뮤터블엑스", "Immutable X"),
    "GRT": ("더그래프", "The Graph"),
    "SAND": ("샌드박스", "The Sandbox"),
    "MANA": ("디센트럴랜드", "Decentraland"),
    "AXS": ("엑시인피니티", "Axie Infinity"),
    "CHZ": ("칠리즈", "Chiliz"),
    "VET": ("비체인", "VeChain"),
    "XTZ": ("테조스", "Tezos"),
    "EOS": ("이오스", "EOS"),
    "NEO": ("네오", "NEO"),
    "QTUM": ("퀀텀", "Qtum"),
    "ICX": ("아이콘", "Icon"),
    "ZIL": ("질리카", "Zilliqa"),
    "ONT": ("온톨로지", "Ontology"),
    "ONG": ("온톨로지가스", "ONG"),
    "IOST": ("아이오에스티", "IOST"),
    "IOTA": ("아이오타", "IOTA"),
    "THETA": ("쎄타토큰", "Theta Token"),
    "TFUEL": ("쎄타퓨엘", "Theta Fuel"),
    "BAT": ("베이직어텐션토큰", "Basic Attention Token"),
    "ZRX": ("제로엑스", "0x Protocol"),
    "KNC": ("카이버네트워크", "Kyber Network"),
    "GLM": ("골렘", "Golem"),
    "STORJ": ("스토리지", "Storj"),
    "ANKR": ("앵커", "Ankr"),
    "SC": ("시아코인", "Siacoin"),
    "SNT": ("스테이터스네트워크토큰", "Status Network Token"),
    "STEEM": ("스팀", "Steem"),
    "SBD": ("스팀달러", "SteemDollars"),
    "HIVE": ("하이브", "Hive"),
    "WAXP": ("왁스", "WAX"),
    "PUNDIX": ("펀디엑스", "Pundi X"),
    "FLOW": ("플로우", "Flow"),
    "EGLD": ("멀티버스엑스", "MultiversX"),
    "ENS": ("이더리움네임서비스", "Ethereum Name Service"),
    "1INCH": ("1인치네트워크", "1inch Network"),
    "POL": ("폴리곤에코시스템토큰", "Polygon Ecosystem Token"),
    "BSV": ("비트코인에스브이", "Bitcoin SV"),
    "BTG": ("비트코인골드", "Bitcoin Gold"),
    "MTL": ("메탈", "Metal"),
    "WAVES": ("웨이브", "Waves"),
    "XEM": ("넴", "NEM"),
    "LSK": ("리스크", "Lisk"),
    "ARDR": ("아더", "Ardor"),
    "ARK": ("아크", "Ark"),
    "GRS": ("그로스톨코인", "Groestlcoin"),
    "POWR": ("파워렛저", "Power ledger"),
    "POLYX": ("폴리매쉬", "Polymesh"),
    "CVC": ("시빅", "Civic"),
    "IQ": ("아이큐", "IQ.wiki"),
    "HIFI": ("하이파이", "Hifi Finance"),
    "GAS": ("가스", "GAS"),
    "UPP": ("센티넬프로토콜", "Sentinel Protocol"),
    "ELF": ("엘프", "aelf"),
    "QKC": ("쿼크체인", "QuarkChain"),
    "BTT": ("비트토렌트", "BitTorrent"),
    "MOC": ("모스코인", "Moss Coin"),
    "AERGO": ("아르고", "Aergo"),
    "TT": ("썬더코어", "ThunderCore"),
    "MBL": ("무비블록", "MovieBloc"),
    "MED": ("메디블록", "MediBloc"),
    "MLK": ("밀크", "MiL.k"),
    "STPT": ("에스티피", "Standard Tokenization Protocol"),
    "ORBS": ("오브스", "Orbs"),
    "STMX": ("스톰엑스", "StormX"),
    "DKA": ("디카르고", "dKargo"),
    "KAVA": ("카바", "Kava"),
    "AHT": ("아하토큰", "AhaToken"),
    "BORA": ("보라", "BORA"),
    "JST": ("저스트", "JUST"),
    "CRO": ("크로노스", "Cronos"),
    "TOKAMAK": ("토카막네트워크", "Tokamak Network"),
    "SXP": ("솔라", "SXP"),
    "HUNT": ("헌트", "HUNT"),
    "MVL": ("엠블", "MVL"),
    "STRAX": ("스트라티스", "Stratis"),
    "AQT": ("알파쿼크", "Alpha Quark Token"),
    "META": ("메타디움", "Metadium"),
    "FCT2": ("피르마체인", "FirmaChain"),
    "CBK": ("코박토큰", "Cobak Token"),
    "HPO": ("히포크랏", "Hippocrat"),
    "STRIKE": ("스트라이크", "Strike"),
    "XEC": ("이캐시", "eCash"),
    "T": ("쓰레스홀드", "Threshold"),
    "CELO": ("셀로", "Celo"),
    "GMT": ("스테픈", "Stepn"),
    "MASK": ("마스크네트워크", "Mask Network"),
    "BLUR": ("블러", "Blur"),
    "MINA": ("미나", "Mina"),
    "CTC": ("크레딧코인", "Creditcoin"),
    "ASTR": ("아스타", "Astar"),
    "ID": ("스페이스아이디", "SPACE ID"),
    "PYTH": ("피스네트워크", "Pyth Network"),
    "MNT": ("맨틀", "Mantle"),
    "AKT": ("아카시네트워크", "Akash Network"),
    "ZETA": ("제타체인", "ZetaChain"),
    "AUCTION": ("바운스토큰", "Bounce"),
    "STG": ("스타게이트파이낸스", "Stargate Finance"),
    "BEAM": ("빔", "Beam"),
    "TAIKO": ("타이코", "Taiko"),
    "USDT": ("테더", "Tether"),
    "USDC": ("유에스디코인", "USD Coin"),
    "ZRO": ("레이어제로", "LayerZero"),
    "BLAST": ("블라스트", "Blast"),
    "JUP": ("주피터", "Jupiter"),
    "G": ("그래비티", "Gravity"),
    "PENDLE": ("펜들", "Pendle"),
    "ATH": ("에이셔", "Aethir"),
    "UXLINK": ("유엑스링크", "UXLINK"),
    "BIGTIME": ("빅타임", "Big Time"),
    "CKB": ("너보스", "Nervos Network"),
    "W": ("웜홀", "Wormhole"),
    "CARV": ("카브", "CARV"),
    "MEW": ("캣인어독스월드", "cat in a dogs world"),
    "SAFE": ("세이프", "Safe"),
    "DRIFT": ("드리프트", "Drift"),
    "AGLD": ("어드벤처골드", "Adventure Gold"),
    "RENDER": ("렌더토큰", "Render Token"),
    "MOVE": ("무브먼트", "Movement"),
    "ME": ("매직에덴", "Magic Eden"),
    "VANA": ("바나", "Vana"),
    "ANIME": ("애니메코인", "Animecoin"),
    "VIRTUAL": ("버추얼프로토콜", "Virtuals Protocol"),
    "BERA": ("베라체인", "Berachain"),
    "LAYER": ("솔레이어", "Solayer"),
    "TRUMP": ("오피셜트럼프", "Official Trump"),
    # Listed in the BTC market only.
    "LTC": ("라이트코인", "Litecoin"),
    "DGB": ("디지바이트", "DigiByte"),
    "RVN": ("레이븐코인", "Ravencoin"),
    "FIL": ("파일코인", "Filecoin"),
    "OP": ("옵티미즘", "Optimism"),
    "SNX": ("신세틱스", "Synthetix"),
    "CRV": ("커브", "Curve"),
    "COMP": ("컴파운드", "Compound"),
    "SUSHI": ("스시스왑", "SushiSwap"),
    "MKR": ("메이커", "Maker"),
    "LPT": ("라이브피어", "Livepeer"),
    "NMR": ("뉴메레르", "Numeraire"),
}

# The coins listed per quote market, most traded first.
_LISTED: dict[str, str] = {
    "KRW": """
        BTC ETH XRP SOL DOGE ADA TRX LINK AVAX DOT BCH ETC XLM SHIB SUI NEAR APT ARB HBAR ATOM ALGO
        UNI AAVE PEPE BONK ONDO SEI STX INJ IMX GRT SAND MANA AXS CHZ VET XTZ EOS NEO QTUM ICX ZIL ONT
        ONG IOST IOTA THETA TFUEL BAT ZRX KNC GLM STORJ ANKR SC SNT STEEM SBD HIVE WAXP PUNDIX FLOW
        EGLD ENS 1INCH POL BSV BTG MTL WAVES XEM LSK ARDR ARK GRS POWR POLYX CVC IQ HIFI GAS UPP ELF
        QKC BTT MOC AERGO TT MBL MED MLK STPT ORBS STMX DKA KAVA AHT BORA JST CRO TOKAMAK SXP HUNT MVL
        STRAX AQT META FCT2 CBK HPO STRIKE XEC T CELO GMT MASK BLUR MINA CTC ASTR ID PYTH MNT AKT ZETA
        AUCTION STG BEAM TAIKO USDT USDC ZRO BLAST JUP G PENDLE ATH UXLINK BIGTIME CKB W CARV MEW SAFE
        DRIFT AGLD RENDER MOVE ME VANA ANIME VIRTUAL BERA LAYER TRUMP
    """,
    "BTC": """
        ETH XRP SOL DOGE ADA TRX LINK AVAX DOT BCH ETC XLM NEO LTC ATOM NEAR ALGO SAND MANA AXS CHZ
        HBAR VET XTZ FIL OP ARB APT SUI SEI STX IMX GRT AAVE 1INCH UNI BAT ZRX KNC GLM STORJ ANKR
        THETA TFUEL IOST ONT QTUM EOS ICX ZIL WAXP HIVE STEEM PUNDIX FLOW SNT SC DGB RVN SNX CRV
        SUSHI COMP LPT MKR NMR INJ EGLD ENS PEPE
    """,
    "USDT": """
        BTC ETH XRP SOL DOGE ADA TRX LINK DOT AVAX BCH ETC XLM SUI NEAR UNI APT ARB HBAR PEPE SHIB
        ONDO
    """,
}


def _listing() -> tuple[Market, ...]:
    return tuple(
        Market(f"{quote}-{coin}", *_NAMES[coin])
        for quote, coins in _LISTED.items()
        for coin in coins.split()
    )


DEFAULT_MARKETS: tuple[Market, ...] = _listing()
_DEFAULT_BY_CODE = {m.market: m for m in DEFAULT_MARKETS}


_QUOTE_NAMES = {"KRW": "원화", "BTC": "BTC", "USDT": "USDT"}


def new_market(code: str, korean_name: str | None = None, english_name: str | None = None) -> Market:
    """The record of ``code`` about to be listed: the names given, else Upbit's from
    :data:`DEFAULT_MARKETS`' coins, else the coin's code (a malformed code is a ValueError)."""
    (record,) = market_list([code])
    return Market(record.market, korean_name if korean_name is not None else record.korean_name,
                  english_name if english_name is not None else record.english_name)


def listing_notice(market: Market) -> dict[str, str]:
    """The fields of the announcement Upbit makes when it lists ``market`` (category ``trade``;
    the title in the form of Upbit's notices, docs/channels.md §5)."""
    where = _QUOTE_NAMES.get(market.quote, market.quote)
    return {"category": "trade",
            "title": f"[거래] {where} 마켓 디지털 자산 추가 ({market.korean_name}({market.base}))"}


def market_list(markets: Iterable[str | Market]) -> tuple[Market, ...]:
    """Normalise a list of markets given as codes or records, in order, repeats dropped.

    A code found in :data:`DEFAULT_MARKETS` takes Upbit's names from there; any other code is named
    after its coin (``KRW-C17`` -> ``C17``), so synthetic lists work too. A malformed code (Upbit's
    codes are upper-case ``QUOTE-BASE``) is a ValueError: it could never be served.
    """
    if isinstance(markets, str):  # a lone code would otherwise be taken as its characters
        raise TypeError("markets must be an iterable of codes or Market records, not a string")
    found: dict[str, Market] = {}
    for item in markets:
        record = item if isinstance(item, Market) else _DEFAULT_BY_CODE.get(item)
        if record is None:
            if not isinstance(item, str):
                raise TypeError(f"a market is a code or a Market record, not {item!r}")
            base = item.split("-", 1)[-1]
            record = Market(item, base, base)
        if _CODE.fullmatch(record.market) is None:
            raise ValueError(f"{record.market!r} is not an Upbit market code (QUOTE-BASE, upper case)")
        found.setdefault(record.market, record)
    return tuple(found.values())
