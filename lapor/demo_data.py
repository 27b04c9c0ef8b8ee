"""What the demo world is made of: work units, routing rules and sample complaints, in Indonesian.

Pure data, no I/O: :mod:`lapor.demo` drives it through the real services. It lives apart so the
content (which people read and will want to improve) can change without touching the seeding
logic. Place names are real kecamatan, kelurahan/desa, streets and facilities of the demo regions,
so a new user recognises the setting; reporter names and phone numbers are invented.

Complaint texts are templates with ``{placeholders}`` filled from the tenant's :class:`Place`, so
one template reads naturally in Kefamenanu, Ngabang or Sofifi. Every template carries the staff
response (tindak lanjut) and its outcome, so a complaint that reaches RESPONDED or CLOSED has a
believable answer, not "lorem ipsum".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lapor.tenants.enums import Channel, ComplaintKind, ResponseOutcome

COMPLAINT = ComplaintKind.COMPLAINT
ASPIRATION = ComplaintKind.ASPIRATION
INFORMATION_REQUEST = ComplaintKind.INFORMATION_REQUEST
RESOLVED = ResponseOutcome.RESOLVED
PARTIAL = ResponseOutcome.PARTIALLY_RESOLVED
UNABLE = ResponseOutcome.UNABLE

PEMDA = "pemda"
"""Regency or city (kabupaten/kota): runs puskesmas, SD/SMP, Dukcapil, PDAM, kecamatan."""
PROVINCE = "province"
"""Province: runs SMA/SMK, provincial roads and hospitals, Samsat (vehicle tax)."""
ANY_LEVEL = frozenset({PEMDA, PROVINCE})


# --- work units --------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitSeed:
    code: str
    name: str
    kind: str = "OPD"


_SHARED_OPD = (
    UnitSeed("DPUPR", "Dinas Pekerjaan Umum dan Penataan Ruang (DPUPR)"),
    UnitSeed("DINKES", "Dinas Kesehatan"),
    UnitSeed("DISHUB", "Dinas Perhubungan"),
    UnitSeed("DLH", "Dinas Lingkungan Hidup"),
    UnitSeed("DINSOS", "Dinas Sosial"),
    UnitSeed("DPMPTSP", "Dinas Penanaman Modal dan Pelayanan Terpadu Satu Pintu (DPMPTSP)"),
    UnitSeed("BPBD", "Badan Penanggulangan Bencana Daerah (BPBD)"),
    UnitSeed("INSPEKTORAT", "Inspektorat Daerah"),
)
PEMDA_UNITS = (
    *_SHARED_OPD,
    UnitSeed("DISDIK", "Dinas Pendidikan"),
    UnitSeed("DUKCAPIL", "Dinas Kependudukan dan Pencatatan Sipil (Dukcapil)"),
)
"""Plus the tenant's PDAM (named per place) and one KECAMATAN unit per kecamatan."""
PROVINCE_UNITS = (
    *_SHARED_OPD,
    UnitSeed("DISDIK", "Dinas Pendidikan dan Kebudayaan"),
    UnitSeed("BAPENDA", "Badan Pendapatan Daerah (Bapenda) / Samsat"),
    UnitSeed("RSUD", "Rumah Sakit Umum Daerah Provinsi", "UPT"),
)


def kecamatan_code(name: str) -> str:
    """``Kota Kefamenanu`` -> ``KEC-KOTA-KEFAMENANU``: stable, readable unit codes."""
    return "KEC-" + "-".join(name.upper().split())


# --- routing rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSeed:
    name: str
    keywords: tuple[str, ...]
    unit: str | None = None
    """Unit code for ASSIGN_UNIT; ``None`` with ``priority`` for SET_PRIORITY."""
    priority: str | None = None
    auto_apply: bool = False


RULES: dict[str, RuleSeed] = {
    # First on every list: a flood or landslide is urgent whatever else the text mentions.
    "bencana": RuleSeed(
        "Banjir dan longsor: prioritas darurat",
        ("banjir", "longsor", "tanah longsor", "banjir bandang"),
        priority="URGENT",
        auto_apply=True,
    ),
    "jalan": RuleSeed(
        "Jalan rusak dan jembatan ke DPUPR",
        ("jalan rusak", "jalan berlubang", "jembatan", "drainase", "gorong-gorong"),
        unit="DPUPR",
        auto_apply=True,
    ),
    "lampu": RuleSeed(
        "Lampu jalan (PJU) ke Dinas Perhubungan",
        ("lampu jalan", "PJU", "penerangan jalan"),
        unit="DISHUB",
        auto_apply=True,
    ),
    "sampah": RuleSeed(
        "Sampah ke Dinas Lingkungan Hidup", ("sampah", "TPS", "TPA"), unit="DLH", auto_apply=False
    ),
    "air": RuleSeed(
        "Air bersih ke PDAM",
        ("air bersih", "PDAM", "air tidak mengalir", "pipa bocor"),
        unit="PDAM",
        auto_apply=True,
    ),
    "adminduk": RuleSeed(
        "KTP, KK dan akta ke Dukcapil",
        ("KTP", "e-KTP", "kartu keluarga", "akta kelahiran"),
        unit="DUKCAPIL",
        auto_apply=False,
    ),
    "puskesmas": RuleSeed(
        "Puskesmas dan posyandu ke Dinas Kesehatan",
        ("puskesmas", "posyandu", "bidan desa"),
        unit="DINKES",
        auto_apply=False,
    ),
    "samsat": RuleSeed(
        "Pajak kendaraan dan Samsat ke Bapenda",
        ("Samsat", "pajak kendaraan", "STNK"),
        unit="BAPENDA",
        auto_apply=True,
    ),
    "sma": RuleSeed("SMA dan SMK ke Dinas Pendidikan", ("SMA", "SMK"), unit="DISDIK", auto_apply=False),
}


# --- places ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kecamatan:
    """A sub-district: its kelurahan/desa and its puskesmas (for a province: a regency or city)."""

    name: str
    villages: tuple[str, ...]
    puskesmas: str = ""


@dataclass(frozen=True)
class Place:
    level: str
    town: str
    """The seat of government (ibu kota)."""
    government: str
    """``Pemerintah Kota Kupang``: how staff name their own employer."""
    head: str
    """``Bupati``, ``Wali Kota`` or ``Gubernur``."""
    zone: str
    """``WIB``, ``WITA`` or ``WIT``: service hours are written in local time."""
    areas: tuple[Kecamatan, ...]
    streets: tuple[str, ...]
    hospital: str
    terminal: str
    """Where public transport starts: a bus terminal, a ferry or speedboat harbour."""
    rules: tuple[str, ...]
    """Keys of :data:`RULES`, in evaluation order."""
    region: str
    """``NTT``, ``KALBAR`` or ``MALUT``: picks the reporter names."""
    market: str = ""
    water_utility: str = ""
    routes: tuple[str, ...] = ()
    industry: str = ""

    @property
    def area_prefix(self) -> str:
        return "Kecamatan " if self.level == PEMDA else ""


PLACES: dict[str, Place] = {
    "ttu": Place(
        level=PEMDA,
        town="Kefamenanu",
        government="Pemerintah Kabupaten Timor Tengah Utara",
        head="Bupati",
        zone="WITA",
        areas=(
            Kecamatan(
                "Kota Kefamenanu", ("Benpasi", "Kefa Tengah", "Aplasi", "Maubeli", "Sasi"), "Puskesmas Sasi"
            ),
            Kecamatan("Insana", ("Oelolok", "Fatuana"), "Puskesmas Oelolok"),
            Kecamatan("Biboki Anleu", ("Ponu", "Tuamese"), "Puskesmas Ponu"),
        ),
        streets=("Jl. El Tari", "Jl. Basuki Rahmat", "Jl. Sonbay", "Jl. Ahmad Yani", "Jl. Trans Timor Raya"),
        hospital="RSUD Kefamenanu",
        terminal="Terminal Kefamenanu",
        market="Pasar Baru Kefamenanu",
        water_utility="PDAM Kabupaten Timor Tengah Utara",
        rules=("bencana", "jalan", "air", "adminduk", "puskesmas"),
        region="NTT",
    ),
    "kupang-kota": Place(
        level=PEMDA,
        town="Kupang",
        government="Pemerintah Kota Kupang",
        head="Wali Kota",
        zone="WITA",
        areas=(
            Kecamatan("Oebobo", ("Oebobo", "Oebufu", "Fatululi", "Kayu Putih", "Liliba"), "Puskesmas Oebobo"),
            Kecamatan(
                "Kelapa Lima", ("Oesapa", "Oesapa Barat", "Lasiana", "Kelapa Lima"), "Puskesmas Oesapa"
            ),
            Kecamatan(
                "Maulafa", ("Penfui", "Sikumana", "Naimata", "Kolhua", "Maulafa"), "Puskesmas Sikumana"
            ),
        ),
        streets=(
            "Jl. W.J. Lalamentik",
            "Jl. Frans Seda",
            "Jl. Timor Raya",
            "Jl. Adisucipto",
            "Jl. Piet A. Tallo",
            "Jl. Herewila",
        ),
        hospital="RSUD S.K. Lerik",
        terminal="Terminal Oebobo",
        market="Pasar Oebobo",
        water_utility="Perumda Air Minum Kota Kupang",
        rules=("bencana", "jalan", "lampu", "sampah", "air"),
        region="NTT",
    ),
    "landak": Place(
        level=PEMDA,
        town="Ngabang",
        government="Pemerintah Kabupaten Landak",
        head="Bupati",
        zone="WIB",
        areas=(
            Kecamatan(
                "Ngabang", ("Hilir Kantor", "Hilir Tengah", "Raja", "Amboyo Inti"), "Puskesmas Ngabang"
            ),
            Kecamatan("Mandor", ("Mandor", "Sebadu", "Kayu Ara"), "Puskesmas Mandor"),
            Kecamatan("Sengah Temila", ("Pahauman", "Senakin", "Keranji Mancal"), "Puskesmas Pahauman"),
        ),
        streets=(
            "Jl. Pangeran Cinata",
            "Jl. Trans Kalimantan",
            "Jl. Raya Ngabang–Pontianak",
            "Jl. Ahmad Yani",
        ),
        hospital="RSUD Landak",
        terminal="Terminal Ngabang",
        market="Pasar Ngabang",
        water_utility="Perumda Air Minum Kabupaten Landak",
        rules=("bencana", "jalan", "sampah", "adminduk", "puskesmas"),
        region="KALBAR",
    ),
    "tidore": Place(
        level=PEMDA,
        town="Soasio",
        government="Pemerintah Kota Tidore Kepulauan",
        head="Wali Kota",
        zone="WIT",
        areas=(
            Kecamatan("Tidore", ("Soasio", "Gamtufkange", "Indonesiana", "Goto"), "Puskesmas Soasio"),
            Kecamatan("Tidore Utara", ("Rum", "Mareku", "Ome"), "Puskesmas Rum"),
            Kecamatan("Oba Utara", ("Sofifi", "Guraping", "Galala"), "Puskesmas Sofifi"),
        ),
        streets=("Jl. Sultan Syaifuddin", "Jl. Ahmad Yani", "Jl. Raya Sofifi", "Jl. Trans Halmahera"),
        hospital="RSUD Kota Tidore Kepulauan",
        terminal="Pelabuhan Rum",
        market="Pasar Sarimalaha",
        water_utility="Perumda Air Minum Kota Tidore Kepulauan",
        rules=("bencana", "jalan", "lampu", "air", "adminduk"),
        region="MALUT",
    ),
    "ntt": Place(
        level=PROVINCE,
        town="Kupang",
        government="Pemerintah Provinsi Nusa Tenggara Timur",
        head="Gubernur",
        zone="WITA",
        areas=(
            Kecamatan("Kabupaten Timor Tengah Selatan", ("Soe", "Niki-Niki")),
            Kecamatan("Kabupaten Belu", ("Atambua", "Atapupu")),
            Kecamatan("Kabupaten Sikka", ("Maumere", "Nita")),
            Kecamatan("Kabupaten Manggarai Barat", ("Labuan Bajo",)),
            Kecamatan("Kabupaten Sumba Timur", ("Waingapu",)),
        ),
        streets=("Jl. El Tari", "Jl. Timor Raya", "Jl. Frans Seda", "Jl. Soeharto"),
        hospital="RSUD Prof. Dr. W. Z. Johannes Kupang",
        terminal="Pelabuhan Penyeberangan Bolok",
        routes=("Soe–Kolbano", "Kefamenanu–Eban", "Maumere–Magepanda"),
        industry="tambang galian C",
        rules=("bencana", "jalan", "samsat", "sma"),
        region="NTT",
    ),
    "kalbar": Place(
        level=PROVINCE,
        town="Pontianak",
        government="Pemerintah Provinsi Kalimantan Barat",
        head="Gubernur",
        zone="WIB",
        areas=(
            Kecamatan("Kabupaten Sanggau", ("Sanggau", "Kembayan")),
            Kecamatan("Kabupaten Sintang", ("Sintang",)),
            Kecamatan("Kabupaten Ketapang", ("Ketapang", "Sandai")),
            Kecamatan("Kabupaten Kubu Raya", ("Sungai Raya", "Rasau Jaya")),
            Kecamatan("Kabupaten Sambas", ("Sambas", "Pemangkat")),
        ),
        streets=("Jl. Ahmad Yani", "Jl. Sutan Syahrir", "Jl. Adisucipto", "Jl. Trans Kalimantan"),
        hospital="RSUD dr. Soedarso Pontianak",
        terminal="Pelabuhan Dwikora Pontianak",
        routes=("Ngabang–Darit", "Sanggau–Balai Karangan", "Sintang–Nanga Pinoh"),
        industry="pabrik kelapa sawit",
        rules=("bencana", "jalan", "samsat"),
        region="KALBAR",
    ),
    "malut": Place(
        level=PROVINCE,
        town="Sofifi",
        government="Pemerintah Provinsi Maluku Utara",
        head="Gubernur",
        zone="WIT",
        areas=(
            Kecamatan("Kabupaten Halmahera Tengah", ("Weda", "Lelilef")),
            Kecamatan("Kabupaten Halmahera Utara", ("Tobelo", "Galela")),
            Kecamatan("Kabupaten Halmahera Selatan", ("Labuha",)),
            Kecamatan("Kota Ternate", ("Ternate", "Bastiong")),
            Kecamatan("Kabupaten Halmahera Timur", ("Maba",)),
        ),
        streets=("Jl. Raya Sofifi", "Jl. Pahlawan Revolusi", "Jl. Trans Halmahera"),
        hospital="RSUD Dr. H. Chasan Boesoirie Ternate",
        terminal="Pelabuhan Speedboat Sofifi",
        routes=("Sofifi–Weda", "Tobelo–Galela", "Sofifi–Payahe"),
        industry="tambang nikel",
        rules=("bencana", "jalan", "samsat", "sma"),
        region="MALUT",
    ),
}


def units_for(place: Place) -> tuple[UnitSeed, ...]:
    """The work units of one demo tenant, kecamatan last (as an admin screen lists them)."""
    if place.level == PROVINCE:
        return (*PROVINCE_UNITS[:-1], UnitSeed("RSUD", place.hospital, "UPT"))
    return (
        *PEMDA_UNITS,
        UnitSeed("PDAM", place.water_utility, "OTHER"),
        *(UnitSeed(kecamatan_code(k.name), f"Kecamatan {k.name}", "KECAMATAN") for k in place.areas),
    )


def all_unit_codes() -> frozenset[str]:
    """Every unit code the demo creates somewhere: their presence means "already seeded"."""
    return frozenset(u.code for place in PLACES.values() for u in units_for(place))


# --- complaints --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """One sample complaint and the answer it gets. ``units``: the first one the tenant has."""

    title: str
    body: str
    location: str
    category: str
    units: tuple[str, ...]
    response: str
    outcome: ResponseOutcome = RESOLVED
    kind: ComplaintKind = COMPLAINT
    levels: frozenset[str] = frozenset({PEMDA})
    anonymous: bool = False
    confidential: bool = False


TEMPLATES: tuple[Template, ...] = (
    # --- pemda: roads, lights, water, waste --------------------------------------------------
    Template(
        "Jalan rusak dan berlubang di {street}, {village}",
        "Selamat siang Bapak/Ibu. Saya mau melaporkan jalan rusak di {street}, {village}, {area}. "
        "Lubangnya sudah banyak dan dalam, kalau hujan tergenang air sehingga tidak kelihatan. Minggu "
        "lalu ada pengendara motor yang jatuh di situ. Mohon segera diperbaiki sebelum ada korban lagi. "
        "Terima kasih.",
        "{street}, {village}, {area}",
        "INFRASTRUKTUR",
        ("DPUPR",),
        "Terima kasih atas laporannya. Tim UPTD Pemeliharaan Jalan DPUPR telah melakukan penambalan "
        "lubang (patching) di ruas {street} pada hari Kamis. Perbaikan menyeluruh ruas tersebut sudah "
        "kami usulkan dalam APBD Perubahan tahun ini. Mohon kabari kami bila masih ada titik yang belum "
        "tertangani.",
    ),
    Template(
        "Lampu jalan mati sepanjang {street}",
        "Sudah hampir sebulan lampu jalan (PJU) di sepanjang {street} dekat {village} mati total. Malam "
        "hari gelap sekali, rawan kecelakaan, dan minggu lalu ada warga yang dijambret di situ. Kami "
        "sudah lapor ke kelurahan tapi belum ada tindakan. Mohon lampunya segera diganti.",
        "{street}, {village}",
        "ENERGI",
        ("DISHUB",),
        "Laporan telah ditindaklanjuti. Petugas Seksi PJU Dinas Perhubungan sudah mengganti 6 unit "
        "lampu LED dan memperbaiki panel yang terbakar di {street}. Lampu menyala kembali sejak Selasa "
        "malam. Terima kasih atas kepeduliannya.",
    ),
    Template(
        "Sampah menumpuk di TPS dekat {market}",
        "Sampah di TPS samping {market} sudah lebih dari seminggu tidak diangkut. Baunya menyengat sampai "
        "ke rumah warga dan banyak lalat, anak-anak jadi sering sakit perut. Sebagian sampah sudah meluber "
        "ke badan jalan. Mohon jadwal truk pengangkut sampah diperbaiki.",
        "TPS samping {market}",
        "LINGKUNGAN",
        ("DLH",),
        "Sampah di TPS dekat {market} sudah diangkut seluruhnya pada Senin pagi dengan dua armada. "
        "Keterlambatan terjadi karena salah satu truk rusak. Jadwal pengangkutan di lokasi tersebut kini "
        "setiap Senin, Rabu dan Jumat. Penambahan kontainer masih menunggu pengadaan.",
        PARTIAL,
    ),
    Template(
        "Pembuangan sampah liar di pinggir kali {village}",
        "Banyak orang membuang sampah di pinggir kali dekat {village}, {area}. Tumpukannya sudah besar dan "
        "bau, kalau hujan sampahnya hanyut dan menyumbat gorong-gorong. Mohon dipasang papan larangan dan "
        "disediakan tempat sampah yang layak.",
        "Pinggir kali, {village}",
        "LINGKUNGAN",
        ("DLH",),
        "DLH telah membersihkan tumpukan sampah di lokasi (sekitar 6 m³), memasang papan larangan "
        "membuang sampah, dan menempatkan kontainer baru. Patroli kebersihan bersama kelurahan akan "
        "dilakukan rutin setiap minggu.",
    ),
    Template(
        "Air PDAM tidak mengalir sudah dua minggu di {village}",
        "Kami warga RT 005/RW 002 {village}, {area}, sudah dua minggu air bersih dari PDAM tidak mengalir "
        "sama sekali, padahal tagihan tetap datang. Kami terpaksa beli air tangki Rp 100.000 per tangki. "
        "Mohon penjelasan dan segera diperbaiki.",
        "RT 005/RW 002, {village}",
        "AIR_BERSIH",
        ("PDAM",),
        "Gangguan disebabkan pipa transmisi diameter 150 mm yang bocor di dekat {street}. Pipa sudah "
        "diganti dan distribusi air ke {village} normal kembali sejak Rabu. Pelanggan terdampak mendapat "
        "keringanan biaya beban pada tagihan bulan depan.",
    ),
    Template(
        "Pipa bocor di {street}, air terbuang percuma",
        "Ada pipa bocor di pinggir {street} depan deretan kios, air menyembur sudah tiga hari dan jalanan "
        "jadi becek. Sayang sekali air terbuang di saat warga lain kekurangan air. Mohon petugas segera "
        "datang.",
        "{street}, depan deretan kios",
        "AIR_BERSIH",
        ("PDAM",),
        "Terima kasih. Petugas teknik sudah memperbaiki kebocoran sambungan pipa di lokasi pada hari yang "
        "sama laporan diterima. Mohon kabari kami bila masih ada rembesan.",
    ),
    Template(
        "Saluran drainase tersumbat, air meluap ke rumah warga di {village}",
        "Saluran drainase di sepanjang {street}, {village}, tersumbat sampah dan lumpur. Setiap hujan deras "
        "air meluap ke jalan dan masuk ke halaman rumah warga. Mohon dilakukan normalisasi saluran sebelum "
        "puncak musim hujan.",
        "{street}, {village}",
        "INFRASTRUKTUR",
        ("DPUPR",),
        "Tim Bidang Sumber Daya Air DPUPR bersama warga telah membersihkan saluran sepanjang 300 meter di "
        "{street}. Dua gorong-gorong yang tertimbun juga sudah dibuka kembali.",
    ),
    Template(
        "Permohonan pengaspalan jalan gang di perumahan {village}",
        "Kami warga perumahan di {village} memohon agar jalan gang sepanjang 400 meter di kompleks kami "
        "diaspal. Saat ini masih jalan tanah, becek dan licin waktu hujan, anak-anak sering jatuh saat "
        "berangkat sekolah.",
        "Kompleks perumahan, {village}",
        "INFRASTRUKTUR",
        ("DPUPR",),
        "Jalan tersebut masih berstatus prasarana perumahan milik pengembang yang belum diserahkan kepada "
        "pemerintah daerah, sehingga tidak dapat dibiayai APBD. Kami telah menyurati pengembang agar "
        "memperbaikinya dan menyerahkan prasarana sesuai ketentuan.",
        UNABLE,
        ASPIRATION,
    ),
    Template(
        "Usulan sumur bor dan bak penampung air bersih di {village}",
        "Setiap musim kemarau warga {village} kesulitan air bersih dan harus mengambil air dari mata air "
        "yang jaraknya 2 km. Kami mengusulkan pembangunan sumur bor dan bak penampungan untuk warga.",
        "{village}, {area}",
        "AIR_BERSIH",
        ("DPUPR",),
        "Usulan telah diverifikasi Bidang Cipta Karya. Pembangunan sumur bor di {village} masuk rencana "
        "program Pamsimas tahun depan. Sementara itu, air bersih diantar dengan mobil tangki dua kali "
        "seminggu.",
        PARTIAL,
        ASPIRATION,
    ),
    # --- pemda: population records -----------------------------------------------------------
    Template(
        "e-KTP belum jadi padahal sudah rekam sejak tiga bulan lalu",
        "Saya sudah rekam e-KTP di kantor Dukcapil tiga bulan lalu, tapi setiap kali datang selalu "
        "dibilang blangko habis. Saya butuh KTP untuk melamar kerja dan mengurus BPJS. Mohon kepastian "
        "kapan KTP saya bisa dicetak.",
        "Kantor Dinas Dukcapil, {town}",
        "ADMINDUK",
        ("DUKCAPIL",),
        "Mohon maaf atas keterlambatannya. Blangko KTP-el sudah kami terima kembali dari Ditjen Dukcapil "
        "minggu ini. KTP-el atas nama pelapor sudah dicetak dan dapat diambil di loket pelayanan dengan "
        "membawa bukti perekaman, Senin sampai Jumat pukul 08.00–15.00 {zone}.",
    ),
    Template(
        "Pengurusan Kartu Keluarga baru berbelit-belit",
        "Saya mau memasukkan anak yang baru lahir ke kartu keluarga. Sudah tiga kali bolak-balik ke kantor "
        "Dukcapil, setiap kali diminta syarat tambahan yang berbeda. Sebenarnya apa saja persyaratannya? "
        "Mohon informasinya dipasang jelas di loket.",
        "Kantor Dinas Dukcapil, {town}",
        "ADMINDUK",
        ("DUKCAPIL",),
        "Persyaratan penambahan anggota keluarga dalam KK: KK lama, kutipan akta kelahiran atau surat "
        "keterangan lahir, dan formulir F-1.01. Tidak dipungut biaya. Daftar persyaratan sudah dipasang "
        "ulang di setiap loket dan di media sosial resmi dinas. Petugas yang memberi informasi berbeda "
        "sudah kami tegur.",
    ),
    Template(
        "Syarat pembuatan akta kelahiran untuk anak usia 5 tahun",
        "Selamat pagi. Anak saya sudah berumur 5 tahun tapi belum punya akta kelahiran karena dulu lahir "
        "di rumah, dibantu dukun beranak. Apa saja syarat yang harus dibawa dan apakah bisa diurus di "
        "kantor camat {area}? Terima kasih.",
        "",
        "ADMINDUK",
        ("DUKCAPIL",),
        "Akta kelahiran yang terlambat dicatat dapat diurus dengan KK, KTP-el kedua orang tua, buku nikah "
        "atau akta perkawinan, SPTJM kebenaran data kelahiran bila tidak ada surat keterangan lahir, dan "
        "dua orang saksi. Layanan jemput bola tersedia di kantor kecamatan setiap Kamis. Gratis.",
        kind=INFORMATION_REQUEST,
    ),
    # --- pemda: health -----------------------------------------------------------------------
    Template(
        "Pelayanan di {puskesmas} lambat, pasien menunggu sampai siang",
        "Saya bawa orang tua berobat ke {puskesmas} jam 7 pagi, baru dilayani jam 12 siang. Dokternya "
        "katanya belum datang dan petugas pendaftaran hanya satu orang. Banyak lansia dan ibu hamil yang "
        "menunggu lama tanpa kursi yang cukup. Mohon sistem antreannya diperbaiki.",
        "{puskesmas}, {area}",
        "KESEHATAN",
        ("DINKES",),
        "Dinas Kesehatan telah melakukan pembinaan ke {puskesmas}. Mulai bulan ini poli umum buka tepat "
        "pukul 08.00 {zone}, loket pendaftaran menjadi dua, dan lansia serta ibu hamil mendapat antrean "
        "prioritas. Penambahan kursi ruang tunggu masih menunggu anggaran.",
        PARTIAL,
    ),
    Template(
        "Obat sering kosong di {puskesmas}, pasien disuruh beli di apotek",
        "Setiap kali berobat ke {puskesmas} dengan BPJS, pasien sering diberi resep untuk beli obat sendiri "
        "di apotek luar karena katanya stok kosong. Untuk warga kurang mampu ini memberatkan. Mohon "
        "ketersediaan obat diperhatikan.",
        "{puskesmas}",
        "KESEHATAN",
        ("DINKES",),
        "Kekosongan obat hipertensi dan antibiotik terjadi karena keterlambatan distribusi dari Instalasi "
        "Farmasi. Stok sudah dipenuhi sejak minggu lalu. Pasien BPJS tidak boleh diminta membeli obat yang "
        "termasuk Formularium Nasional; bila terjadi lagi, mohon laporkan kembali.",
    ),
    Template(
        "Posyandu di {village} tidak aktif lagi",
        "Posyandu di {village} sudah beberapa bulan tidak buka. Kader bilang bidan desa tidak pernah datang "
        "dan PMT untuk balita juga tidak ada. Padahal banyak balita yang perlu ditimbang dan diimunisasi, "
        "apalagi angka stunting di sini masih tinggi.",
        "Posyandu {village}",
        "KESEHATAN",
        ("DINKES",),
        "Dinas Kesehatan melalui {puskesmas} telah mengaktifkan kembali posyandu di {village} setiap "
        "tanggal 10. Bidan desa dijadwalkan hadir dan PMT lokal untuk balita sudah disalurkan.",
    ),
    # --- pemda: schools ----------------------------------------------------------------------
    Template(
        "Atap ruang kelas SD Negeri di {village} bocor dan hampir roboh",
        "Atap dua ruang kelas di SD Negeri {village} sudah bocor parah dan kayunya lapuk. Kalau hujan, "
        "murid-murid terpaksa belajar di teras atau dipulangkan. Kami khawatir atapnya roboh menimpa "
        "anak-anak. Mohon Dinas Pendidikan segera meninjau.",
        "SD Negeri {village}, {area}",
        "PENDIDIKAN",
        ("DISDIK",),
        "Tim Dinas Pendidikan sudah meninjau sekolah tersebut. Untuk sementara dua ruang kelas dikosongkan "
        "dan pembelajaran dipindah ke ruang perpustakaan. Rehabilitasi atap masuk daftar prioritas DAK "
        "Fisik tahun anggaran berikutnya.",
        PARTIAL,
    ),
    Template(
        "Pungutan uang pembangunan dan seragam di SMP negeri",
        "Anak saya baru masuk SMP negeri di {area}. Sekolah meminta uang seragam, buku LKS dan uang "
        "pembangunan total Rp 1.750.000 yang katanya wajib dibayar sebelum akhir bulan. Bukankah sekolah "
        "negeri sudah dapat dana BOS? Mohon nama saya dirahasiakan karena anak saya masih sekolah di sana.",
        "",
        "PUNGLI",
        ("DISDIK",),
        "Dinas Pendidikan bersama Inspektorat telah memanggil kepala sekolah yang bersangkutan. Pungutan "
        "uang pembangunan dibatalkan dan dana yang sudah disetor dikembalikan kepada orang tua. Pembelian "
        "seragam dan LKS tidak boleh diwajibkan. Identitas pelapor tetap kami rahasiakan.",
        anonymous=True,
        confidential=True,
    ),
    Template(
        "Insentif guru honorer belum dibayar tiga bulan",
        "Kami guru honorer SD dan SMP di {area} sudah tiga bulan belum menerima insentif daerah. Katanya "
        "anggaran belum cair. Kami juga punya keluarga yang harus dihidupi. Mohon kepastian kapan "
        "dibayarkan.",
        "",
        "PENDIDIKAN",
        ("DISDIK",),
        "Insentif guru honorer triwulan ini tertunda karena verifikasi data Dapodik. Pembayaran telah "
        "ditransfer ke rekening masing-masing guru tanggal 15. Bila belum diterima, silakan menghubungi "
        "Bidang GTK Dinas Pendidikan.",
    ),
    Template(
        "Jadwal dan kuota jalur zonasi PPDB SMP",
        "Mohon informasi kapan pendaftaran PPDB SMP negeri dibuka, berapa kuota jalur zonasi, dan dokumen "
        "apa yang perlu disiapkan. Rumah kami di {village}, apakah masuk zona SMP negeri terdekat?",
        "",
        "PENDIDIKAN",
        ("DISDIK",),
        "Pendaftaran PPDB SMP dibuka secara daring pada bulan Juni. Kuota jalur zonasi minimal 50%, "
        "afirmasi 15%, perpindahan tugas orang tua 5%, sisanya jalur prestasi. Siapkan KK (terbit minimal "
        "satu tahun), akta kelahiran dan rapor. Peta zonasi tersedia di laman PPDB Dinas Pendidikan.",
        kind=INFORMATION_REQUEST,
    ),
    # --- pemda: social aid, levies, services -------------------------------------------------
    Template(
        "Nama kami hilang dari daftar penerima bansos PKH",
        "Keluarga kami sebelumnya terdaftar sebagai penerima PKH dan BPNT, tetapi sejak tiga bulan lalu "
        "bantuan tidak cair lagi. Kata pendamping, nama kami sudah tidak ada di DTKS. Padahal kondisi "
        "ekonomi kami tidak berubah, suami bekerja sebagai buruh harian.",
        "{village}, {area}",
        "SOSIAL",
        ("DINSOS",),
        "Berdasarkan pengecekan di SIKS-NG, data keluarga pelapor tergeser karena NIK kepala keluarga belum "
        "padan dengan data Dukcapil. Perbaikan NIK sudah diajukan dan keluarga pelapor diusulkan kembali "
        "dalam pemutakhiran DTKS bulan ini. Penetapan penerima tetap oleh Kementerian Sosial.",
        PARTIAL,
    ),
    Template(
        "Pungutan liar saat mengurus SKTM di kantor desa {village}",
        "Untuk mengurus surat keterangan tidak mampu (SKTM) di kantor desa {village}, warga diminta "
        "membayar Rp 50.000 tanpa kuitansi, katanya uang administrasi. Padahal warga miskin justru butuh "
        "SKTM untuk berobat. Saya minta identitas saya dirahasiakan.",
        "Kantor desa {village}",
        "PUNGLI",
        ("INSPEKTORAT",),
        "Inspektorat telah mengklarifikasi kepala desa dan perangkat desa {village}. Pungutan tersebut "
        "tidak berdasar hukum dan telah dihentikan; perangkat desa yang bersangkutan diberi teguran "
        "tertulis. Terima kasih atas keberanian melapor. Identitas pelapor dijamin kerahasiaannya.",
        anonymous=True,
        confidential=True,
    ),
    Template(
        "Kantor camat tutup pada jam kerja",
        "Hari Senin jam 10 pagi saya datang ke kantor {area} untuk mengurus surat rekomendasi, tapi kantor "
        "masih tutup dan tidak ada satu pun pegawai. Saya datang dari desa yang jauh dan harus kembali "
        "lagi besok. Mohon disiplin pegawai diperhatikan.",
        "Kantor {area}",
        "KEPEGAWAIAN",
        ("KEC",),
        "Camat telah menegur pegawai yang tidak masuk tanpa keterangan. Absensi pegawai kecamatan kini "
        "elektronik dan jam layanan 08.00–15.00 {zone} diumumkan di depan kantor. Mohon maaf atas "
        "ketidaknyamanannya.",
    ),
    Template(
        "Pengurusan PBG (dulu IMB) dua bulan belum selesai",
        "Saya mengajukan Persetujuan Bangunan Gedung (PBG) untuk rumah tinggal dua bulan lalu lewat SIMBG. "
        "Semua berkas sudah lengkap, tetapi status di aplikasi masih 'verifikasi' tanpa kabar. Mohon "
        "kejelasan, karena saya butuh untuk pengajuan KPR.",
        "",
        "PERIZINAN",
        ("DPMPTSP",),
        "Permohonan PBG pelapor tertunda karena tim penilai teknis belum menjadwalkan konsultasi. "
        "Konsultasi sudah dilaksanakan hari Selasa dan PBG telah terbit di SIMBG. Mohon maaf atas "
        "keterlambatannya.",
    ),
    Template(
        "Sopir angkot menaikkan tarif seenaknya",
        "Tarif angkot jurusan {terminal}–{village} dinaikkan sopir dari Rp 5.000 menjadi Rp 8.000 tanpa "
        "pengumuman resmi. Kalau penumpang protes malah dimarahi. Apakah ada kenaikan tarif resmi? Mohon "
        "Dinas Perhubungan menertibkan.",
        "Trayek {terminal}–{village}",
        "PERHUBUNGAN",
        ("DISHUB",),
        "Tidak ada kenaikan tarif resmi; tarif tetap sesuai Peraturan {head}. Dinas Perhubungan telah "
        "menegur sopir di {terminal} dan menempel stiker tarif resmi di setiap angkot. Bila terulang, "
        "catat nomor polisi kendaraan dan laporkan kembali.",
    ),
    Template(
        "Juru parkir liar di depan {market} minta Rp 5.000",
        "Di depan {market} ada juru parkir tanpa seragam dan tanpa karcis yang meminta Rp 5.000 untuk "
        "motor. Kalau tidak bayar, motor digeser atau pengendara dimaki. Mohon ditertibkan.",
        "Depan {market}",
        "KETERTIBAN",
        ("DISHUB",),
        "Dinas Perhubungan bersama Satpol PP telah menertibkan juru parkir tanpa izin di depan {market}. "
        "Petugas parkir resmi kini memakai rompi dan memberikan karcis dengan tarif Rp 2.000 untuk motor.",
    ),
    Template(
        "Usulan taman bermain anak dan ruang terbuka hijau di {village}",
        "Kami warga {village} mengusulkan agar lahan kosong milik pemda di dekat kantor kelurahan dijadikan "
        "taman bermain anak dan ruang terbuka hijau. Saat ini anak-anak bermain di pinggir jalan yang "
        "ramai kendaraan. Warga siap bergotong royong merawatnya.",
        "Dekat kantor kelurahan {village}",
        "LINGKUNGAN",
        ("DLH",),
        "Terima kasih atas aspirasinya. Usulan telah dicatat dan akan dibahas dalam Musrenbang kecamatan "
        "tahun depan. Dinas Lingkungan Hidup juga akan meninjau status lahan tersebut bersama bagian aset.",
        PARTIAL,
        ASPIRATION,
    ),
    # --- any level -----------------------------------------------------------------------------
    Template(
        "Banjir merendam rumah warga di {village}",
        "Sejak semalam hujan deras membuat banjir setinggi lutut merendam puluhan rumah di {village}, "
        "{area}. Beberapa lansia dan anak kecil perlu dievakuasi, warga butuh makanan siap saji dan air "
        "minum. Mohon bantuan segera.",
        "{village}, {area}",
        "LINGKUNGAN",
        ("BPBD",),
        "Tim Reaksi Cepat BPBD berada di lokasi sejak pukul 06.00 {zone}, mengevakuasi 14 warga ke posko di "
        "kantor desa dan menyalurkan makanan siap saji, selimut serta air minum. Air surut sore harinya. "
        "Pendataan kerusakan rumah dilakukan bersama pemerintah desa.",
        levels=ANY_LEVEL,
    ),
    Template(
        "Tanah longsor menutup akses jalan ke {village}",
        "Longsor terjadi di tebing pinggir jalan menuju {village} setelah hujan dua hari berturut-turut. "
        "Tanah dan batu menutup separuh badan jalan, mobil tidak bisa lewat. Warga khawatir ada longsor "
        "susulan. Mohon alat berat segera dikirim.",
        "Jalan menuju {village}, {area}",
        "INFRASTRUKTUR",
        ("BPBD",),
        "BPBD bersama DPUPR menurunkan satu unit ekskavator. Material longsor sudah dibersihkan dan jalan "
        "dapat dilalui kembali. Rambu rawan longsor telah dipasang; penanganan tebing secara permanen "
        "sedang dikaji.",
        levels=ANY_LEVEL,
    ),
    Template(
        "Jembatan gantung di {village} putus, anak sekolah menyeberang sungai",
        "Jembatan gantung penghubung {village} dengan jalan utama putus diterjang arus sungai bulan lalu. "
        "Sekarang anak-anak sekolah terpaksa menyeberang sungai dengan berjalan kaki, sangat berbahaya "
        "kalau air naik. Mohon segera dibangun kembali.",
        "{village}, {area}",
        "INFRASTRUKTUR",
        ("DPUPR",),
        "Tim teknis sudah meninjau lokasi. Jembatan darurat dari kayu sudah dipasang bersama TNI dan warga. "
        "Pembangunan jembatan permanen diusulkan lewat dana Bantuan Tanggap Darurat dan ditargetkan mulai "
        "tahun depan.",
        PARTIAL,
        levels=ANY_LEVEL,
    ),
    Template(
        "Cara mengurus izin usaha (NIB) untuk warung makan",
        "Saya ingin mengurus izin untuk usaha warung makan kecil di rumah supaya bisa ikut program KUR. "
        "Apakah cukup dengan NIB lewat OSS dan apakah ada biayanya? Apakah bisa dibantu di kantor DPMPTSP?",
        "",
        "PERIZINAN",
        ("DPMPTSP",),
        "Untuk usaha mikro berisiko rendah cukup Nomor Induk Berusaha (NIB) melalui oss.go.id, tanpa biaya. "
        "Siapkan NIK dan email aktif. Bila kesulitan, petugas helpdesk OSS di kantor DPMPTSP {town} siap "
        "membantu pada hari kerja pukul 08.00–14.00 {zone}.",
        kind=INFORMATION_REQUEST,
        levels=ANY_LEVEL,
    ),
    Template(
        "Kapan jadwal pencairan BLT dan bagaimana cara cek penerima?",
        "Mohon informasi jadwal pencairan bantuan langsung tunai bulan ini dan bagaimana cara mengecek "
        "apakah keluarga kami termasuk penerima. Di {village} beredar kabar yang berbeda-beda.",
        "",
        "SOSIAL",
        ("DINSOS",),
        "Status penerima bansos dapat dicek di cekbansos.kemensos.go.id dengan nama sesuai KTP dan wilayah. "
        "Jadwal penyaluran diumumkan pendamping sosial dan kantor pos setempat. Bila merasa layak tetapi "
        "tidak terdaftar, silakan mengajukan usulan melalui kantor desa/kelurahan.",
        kind=INFORMATION_REQUEST,
        levels=ANY_LEVEL,
    ),
    Template(
        "Usulan penambahan trayek angkutan umum ke {village}",
        "Belum ada angkutan umum yang masuk ke {village}. Warga, terutama anak sekolah dan pedagang, harus "
        "berjalan kaki 3 km atau naik ojek yang mahal. Kami mengusulkan penambahan trayek atau bus sekolah.",
        "{village}, {area}",
        "PERHUBUNGAN",
        ("DISHUB",),
        "Dinas Perhubungan akan melakukan survei kebutuhan angkutan ke {village}. Sementara itu, rute bus "
        "sekolah sudah diperpanjang hingga simpang {village} mulai semester ini.",
        PARTIAL,
        ASPIRATION,
        levels=ANY_LEVEL,
    ),
    Template(
        "Pasien BPJS disuruh mencari rumah sakit lain oleh IGD {hospital}",
        "Ayah saya dibawa ke IGD {hospital} karena sesak napas, tapi petugas bilang kamar penuh dan kami "
        "disuruh mencari rumah sakit lain tanpa dirujuk. Kami harus mencari sendiri dalam kondisi darurat. "
        "Apakah memang boleh begitu?",
        "IGD {hospital}",
        "KESEHATAN",
        ("RSUD", "DINKES"),
        "Manajemen {hospital} telah mengklarifikasi petugas IGD. Pasien gawat darurat wajib ditangani dan "
        "distabilkan dulu, lalu dirujuk lewat SISRUTE bila kamar penuh. Petugas yang bersangkutan sudah "
        "dibina dan alur rujukan disosialisasikan ulang.",
        PARTIAL,
        levels=ANY_LEVEL,
    ),
    Template(
        "Terima kasih untuk perawat ruang bersalin {hospital}",
        "Saya ingin berterima kasih kepada bidan dan perawat ruang bersalin {hospital} yang melayani istri "
        "saya dengan sabar dan ramah tengah malam. Semoga pelayanan seperti ini dipertahankan. Hanya saja "
        "lahan parkir untuk keluarga pasien masih sangat sempit.",
        "{hospital}",
        "KESEHATAN",
        ("RSUD", "DINKES"),
        "Terima kasih atas apresiasinya; pesan ini sudah kami sampaikan kepada tim ruang bersalin. Masukan "
        "soal lahan parkir sedang kami tindak lanjuti dengan penataan ulang area parkir samping gedung.",
        kind=ASPIRATION,
        levels=ANY_LEVEL,
    ),
    Template(
        "Petugas loket main HP saat melayani warga",
        "Saat mengurus berkas di loket pelayanan DPMPTSP {town}, petugas sibuk bermain HP dan mengobrol "
        "dengan rekannya, antrean dibiarkan menumpuk. Ketika ditanya malah menjawab ketus. Mohon petugas "
        "pelayanan diberi pembinaan.",
        "Kantor DPMPTSP, {town}",
        "KEPEGAWAIAN",
        ("DPMPTSP",),
        "Terima kasih atas masukannya. Kepala Dinas telah menegur petugas yang bersangkutan dan melarang "
        "penggunaan telepon genggam di area loket. Survei kepuasan masyarakat kini tersedia di setiap loket.",
        levels=ANY_LEVEL,
    ),
    Template(
        "Dimintai uang Rp 15 juta agar lolos seleksi tenaga kontrak",
        "Ada oknum pegawai yang menawarkan kelulusan seleksi tenaga kontrak di lingkungan {government} "
        "dengan bayaran Rp 15 juta. Beberapa teman saya sudah membayar. Saya punya bukti percakapan "
        "WhatsApp dan siap memberikannya, asal identitas saya dirahasiakan.",
        "",
        "PUNGLI",
        ("INSPEKTORAT",),
        "Inspektorat telah menerima bukti yang dilampirkan dan sedang melakukan audit investigatif. Seleksi "
        "tenaga kontrak tidak dipungut biaya apa pun; masyarakat diimbau tidak percaya kepada pihak yang "
        "menjanjikan kelulusan. Perkembangan pemeriksaan akan kami sampaikan kepada pelapor.",
        PARTIAL,
        anonymous=True,
        confidential=True,
        levels=ANY_LEVEL,
    ),
    Template(
        "Pohon besar di {street} miring dan nyaris tumbang",
        "Pohon angsana besar di pinggir {street} sudah miring ke arah jalan dan akarnya terangkat. Kalau "
        "angin kencang dahannya berjatuhan. Kami takut tumbang menimpa kendaraan atau kabel listrik. Mohon "
        "segera dipangkas.",
        "{street}, {town}",
        "LINGKUNGAN",
        ("DLH",),
        "Tim pertamanan DLH telah memangkas dahan pohon di {street} dan menilai kondisi akarnya. Pohon akan "
        "ditebang dan diganti bibit baru karena batangnya keropos.",
        levels=ANY_LEVEL,
    ),
    # --- province ----------------------------------------------------------------------------
    Template(
        "Ruas jalan provinsi {route} rusak parah",
        "Ruas jalan provinsi {route} di {area} rusak parah, aspal terkelupas dan jalan berlubang hampir "
        "sepanjang 5 km. Truk pengangkut hasil bumi sering terperosok dan perjalanan yang dulu 1 jam "
        "sekarang 3 jam. Mohon jalan rusak ini segera diperbaiki.",
        "Ruas {route}, {area}",
        "INFRASTRUKTUR",
        ("DPUPR",),
        "Ruas {route} merupakan jalan provinsi. UPT Pengelolaan Jalan telah menambal titik-titik kritis. "
        "Peningkatan struktur jalan dianggarkan pada APBD Provinsi tahun depan.",
        PARTIAL,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Antrean panjang dan calo di kantor Samsat {town}",
        "Mau bayar pajak kendaraan tahunan di Samsat {town}, antreannya dari jam 8 sampai jam 2 siang. Di "
        "luar banyak calo yang menawarkan jasa lebih cepat dengan tambahan Rp 150.000. Kenapa layanan "
        "online tidak berjalan?",
        "Kantor Samsat {town}",
        "LAINNYA",
        ("BAPENDA",),
        "Bapenda telah menambah loket pembayaran, mengaktifkan kembali e-Samsat dan Samsat keliling di akhir "
        "pekan. Pajak kendaraan tahunan juga dapat dibayar lewat aplikasi SIGNAL. Penertiban calo dilakukan "
        "bersama kepolisian.",
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Apakah ada pemutihan denda pajak kendaraan tahun ini?",
        "Motor saya sudah tiga tahun menunggak pajak karena lama merantau. Apakah ada program pemutihan "
        "denda pajak kendaraan? Syaratnya apa saja dan bisa dibayar di Samsat mana?",
        "",
        "LAINNYA",
        ("BAPENDA",),
        "Program pembebasan denda pajak kendaraan bermotor berlaku sampai akhir bulan depan di seluruh "
        "kantor Samsat. Bawa KTP asli sesuai STNK, STNK, dan BPKB atau surat keterangan leasing. Pokok "
        "pajak tetap dibayar, dendanya dihapus.",
        kind=INFORMATION_REQUEST,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Uang komite SMA negeri di {village} memberatkan",
        "SMA negeri di {village} menarik uang komite Rp 250.000 per bulan, dan siswa yang belum lunas tidak "
        "boleh ikut ujian semester. Banyak orang tua petani yang tidak mampu. Mohon ditinjau, dan tolong "
        "nama saya dirahasiakan.",
        "",
        "PUNGLI",
        ("DISDIK",),
        "Dinas Pendidikan dan Kebudayaan telah memanggil kepala sekolah dan ketua komite. Sumbangan komite "
        "bersifat sukarela dan tidak boleh dikaitkan dengan hak siswa mengikuti ujian; kebijakan tersebut "
        "telah dicabut. Identitas pelapor dirahasiakan.",
        anonymous=True,
        confidential=True,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Jadwal dan kuota afirmasi PPDB SMA/SMK negeri",
        "Mohon informasi jadwal PPDB SMA dan SMK negeri tahun ini, kuota jalur afirmasi untuk anak dari "
        "keluarga penerima PKH, dan apakah pendaftaran bisa dilakukan dari desa tanpa datang ke sekolah.",
        "",
        "PENDIDIKAN",
        ("DISDIK",),
        "PPDB SMA/SMK negeri dilaksanakan daring lewat laman PPDB Provinsi pada bulan Juni. Kuota afirmasi "
        "minimal 15% untuk calon siswa pemegang KIP/PKH. Pendaftaran dapat dilakukan dari mana saja; sekolah "
        "juga membuka posko pendampingan.",
        kind=INFORMATION_REQUEST,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Jadwal kapal dari {terminal} sering batal tanpa pemberitahuan",
        "Sudah tiga kali minggu ini jadwal kapal dari {terminal} dibatalkan mendadak tanpa pengumuman. "
        "Penumpang dan truk sembako menunggu berjam-jam di pelabuhan. Mohon ada informasi jadwal yang pasti "
        "dan ruang tunggu yang layak.",
        "{terminal}",
        "PERHUBUNGAN",
        ("DISHUB",),
        "Dinas Perhubungan telah berkoordinasi dengan operator kapal dan Syahbandar. Pembatalan terjadi "
        "karena cuaca buruk dan satu kapal menjalani perawatan. Mulai minggu ini jadwal dan pembatalan "
        "diumumkan lewat media sosial Dishub dan pengeras suara di pelabuhan.",
        PARTIAL,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Limbah {industry} mencemari sungai di {area}",
        "Air sungai di dekat {village}, {area}, berubah warna dan berbau sejak ada aktivitas {industry} di "
        "hulu. Ikan banyak yang mati dan warga tidak berani lagi memakai air sungai untuk mandi dan mencuci. "
        "Mohon dilakukan pemeriksaan dan penindakan.",
        "Sungai dekat {village}, {area}",
        "LINGKUNGAN",
        ("DLH",),
        "Tim Dinas Lingkungan Hidup telah mengambil sampel air sungai dan memeriksa instalasi pengolahan "
        "limbah perusahaan. Beberapa parameter melebihi baku mutu; perusahaan dikenai sanksi administratif "
        "paksaan pemerintah untuk memperbaiki IPAL dalam 30 hari.",
        PARTIAL,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Usulan beasiswa dan asrama untuk siswa SMA dari desa terpencil",
        "Banyak anak dari desa terpencil di {area} yang lulus SMP tapi tidak melanjutkan ke SMA karena biaya "
        "kos dan transportasi ke kota. Kami mengusulkan beasiswa atau asrama siswa bagi mereka.",
        "",
        "PENDIDIKAN",
        ("DISDIK",),
        "Terima kasih atas aspirasinya. Dinas Pendidikan dan Kebudayaan membuka beasiswa afirmasi untuk "
        "siswa SMA/SMK dari daerah 3T mulai tahun ajaran baru, dengan kuota terbatas. Usulan asrama dicatat "
        "untuk perencanaan tahun berikutnya.",
        PARTIAL,
        ASPIRATION,
        levels=frozenset({PROVINCE}),
    ),
    Template(
        "Apakah galian C di sungai dekat {village} berizin?",
        "Mohon informasi apakah aktivitas galian C di sungai dekat {village} sudah memiliki izin. Truk "
        "pengangkut pasir lalu-lalang setiap hari dan tebing sungai mulai longsor.",
        "Sungai dekat {village}, {area}",
        "PERIZINAN",
        ("DPMPTSP",),
        "Menurut data perizinan, kegiatan tersebut belum memiliki izin pertambangan (SIPB). Informasi ini "
        "telah kami teruskan ke Dinas ESDM dan Satpol PP Provinsi untuk penertiban.",
        kind=INFORMATION_REQUEST,
        levels=frozenset({PROVINCE}),
    ),
)


@dataclass(frozen=True)
class ArchiveTemplate:
    """A report an admin archives at verification, and the reason the reporter reads."""

    title: str
    body: str
    reason: str


ARCHIVE_TEMPLATES: tuple[ArchiveTemplate, ...] = (
    ArchiveTemplate(
        "Tolong ditindak pak",
        "Tolong ditindak pak, sudah lama seperti ini tidak ada perubahan sama sekali.",
        "Laporan terlalu umum: tidak menyebutkan masalah, lokasi, maupun instansi yang dilaporkan. Silakan "
        "kirim laporan baru dengan uraian yang jelas.",
    ),
    ArchiveTemplate(
        "Listrik sering padam di {village}",
        "Listrik di {village} padam hampir setiap malam 2-3 jam, peralatan elektronik warga banyak rusak.",
        "Bukan kewenangan pemerintah daerah: gangguan listrik ditangani PT PLN (Persero). Silakan hubungi "
        "PLN 123 atau aplikasi PLN Mobile.",
    ),
    ArchiveTemplate(
        "Pinjaman dana cepat cair tanpa jaminan",
        "Butuh dana cepat? Pinjaman tanpa jaminan, bunga rendah, proses 5 menit langsung cair. Hubungi kami.",
        "Spam/promosi, bukan laporan pelayanan publik.",
    ),
    ArchiveTemplate(
        "Sinyal internet hilang di {village}",
        "Sudah seminggu sinyal internet di {village} hilang, anak-anak tidak bisa mengerjakan tugas sekolah.",
        "Bukan kewenangan pemerintah daerah: jaringan seluler dikelola operator. Laporan dapat disampaikan "
        "ke operator terkait atau ke Kementerian Komunikasi dan Digital.",
    ),
    ArchiveTemplate(
        "Sengketa batas tanah dengan tetangga",
        "Tetangga saya memindahkan patok batas tanah ke lahan saya. Sudah ditegur tapi tidak mau mengaku.",
        "Sengketa perdata antarwarga, bukan pelayanan publik. Silakan menempuh mediasi di kantor "
        "desa/kelurahan, ke kantor pertanahan (BPN), atau jalur hukum.",
    ),
    ArchiveTemplate(
        "Tes laporan",
        "tes tes coba aplikasi lapor 123",
        "Laporan uji coba tanpa isi pengaduan.",
    ),
)


# --- the conversation around a complaint --------------------------------------------------------

QUESTIONS = (
    "Mohon lengkapi lokasi persisnya (nama jalan, RT/RW atau patokan terdekat) dan lampirkan foto kondisi "
    "di lapangan agar dapat kami teruskan ke perangkat daerah terkait.",
    "Laporan Anda belum menyebutkan kapan kejadian berlangsung dan unit layanan yang dimaksud. Mohon "
    "dilengkapi agar dapat kami verifikasi.",
    "Mohon sebutkan nomor registrasi permohonan Anda (tanpa mengirim foto KTP) supaya petugas dapat "
    "menelusuri berkasnya.",
)
COMPLETIONS = (
    "Lokasinya sekitar 50 meter dari gereja, depan kios sembako. Foto sudah saya lampirkan lewat aplikasi.",
    "Kejadiannya hari Senin kemarin sekitar jam 10 pagi di loket 2.",
    "Nomor registrasi permohonan saya REG-0042, diajukan awal bulan lalu.",
)
VERIFY_NOTES = (
    None,
    "Laporan lengkap, diteruskan untuk disposisi.",
    "Sudah dicek: materi laporan jelas dan merupakan kewenangan kami.",
)
ASSIGN_NOTES = (
    "Mohon ditindaklanjuti dan dilaporkan hasilnya paling lambat 5 hari kerja.",
    "Mohon segera ditinjau ke lokasi dan koordinasi dengan kelurahan setempat.",
    None,
)
REPLIES = (
    "Terima kasih atas tanggapannya. Tapi kapan tepatnya tindak lanjutnya selesai? Warga menunggu kepastian.",
    "Baik, terima kasih. Saya akan cek kembali ke lokasi besok dan mengabari di sini.",
)
FOLLOW_UPS = (
    "Penyelesaian dijadwalkan minggu depan; tim akan berkoordinasi dengan ketua RT setempat. Kami kabari "
    "lagi di laporan ini setelah selesai.",
    "Terima kasih atas konfirmasinya. Bila masih ada kendala, silakan balas di laporan ini.",
)
DISPUTES = (
    "Tanggapan tidak sesuai kenyataan. Saya cek lagi kemarin dan belum ada perubahan apa pun.",
    "Baru sebagian yang ditangani, masalah yang sama masih terjadi. Mohon ditinjau ulang.",
    "Masalahnya belum selesai. Petugas hanya datang mencatat lalu pergi tanpa tindakan.",
)
SECOND_RESPONSE = (
    "Menindaklanjuti sanggahan Bapak/Ibu, kami telah meninjau ulang bersama kepala bidang dan menuntaskan "
    "hal yang tersisa. Dokumentasi tindak lanjut sudah kami unggah. Mohon maaf atas ketidaknyamanan "
    "sebelumnya."
)
RATINGS_GOOD = (
    (5, "Cepat ditanggapi, terima kasih banyak!"),
    (5, "Mantap, langsung ada tindakan di lapangan."),
    (4, "Sudah diperbaiki, semoga dirawat terus."),
    (4, None),
)
RATINGS_MIXED = (
    (3, "Lumayan, tapi prosesnya agak lama."),
    (2, "Ditanggapi, tapi baru sebagian yang selesai."),
    (1, "Tidak ada perubahan berarti di lapangan."),
)


# --- reporters and channels ----------------------------------------------------------------------

REPORTER_NAMES: dict[str, tuple[str, ...]] = {
    "NTT": (
        "Maria Goreti Bere",
        "Yohanes Taek",
        "Agustinus Kolo",
        "Fransiska Abi",
        "Yakobus Nahak",
        "Petrus Tefa",
        "Marselina Sanam",
        "Daniel Lenggu",
        "Ayu Manafe",
        "Ricky Foeh",
        "Christin Ndun",
        "Imanuel Pah",
        "Sarlota Seran",
        "Benediktus Atok",
    ),
    "KALBAR": (
        "Yohanes Ason",
        "Martinus Sekot",
        "Lusia Ansi",
        "Antonius Bahen",
        "Veronika Indah",
        "Rudi Hartono",
        "Siti Aminah",
        "Hendrikus Adam",
        "Yuliana Nyanyi",
        "Muhammad Syarif",
        "Agustina Ida",
        "Stefanus Lejo",
    ),
    "MALUT": (
        "Ahmad Sangaji",
        "Fatma Abdullah",
        "Rahmat Hasan",
        "Nurhayati Umasugi",
        "Sarfan Soleman",
        "Irfan Djafar",
        "Hamida Tuanany",
        "Yusuf Mahmud",
        "Sumarni Ishak",
        "Rusdi Alting",
        "Wahyuni Taher",
        "Abdul Gani Kasuba",
    ),
}
PHONE_PREFIXES = ("812", "813", "821", "822", "852", "853", "811", "877")

CHANNEL_WEIGHTS: tuple[tuple[Channel, int], ...] = (
    (Channel.WEB, 28),
    (Channel.MOBILE, 22),
    (Channel.SMS, 15),
    (Channel.WHATSAPP, 15),
    (Channel.SOCIAL, 8),
    (Channel.EMAIL, 6),
    (Channel.WALK_IN, 6),
)
SMS_SHORT_CODE = "1708"
"""LAPOR!'s SMS number: gateway references read ``1708-<n>``."""


# --- how far each complaint gets -----------------------------------------------------------------


class Scenario(enum.StrEnum):
    """A path through the lifecycle; the name says where it ends."""

    SUBMITTED = "SUBMITTED"
    INFO_COMPLETED = "INFO_COMPLETED"  # asked for more, answered: SUBMITTED again
    NEEDS_INFO = "NEEDS_INFO"
    ARCHIVED = "ARCHIVED"
    VERIFIED = "VERIFIED"
    IN_PROGRESS = "IN_PROGRESS"
    DISPUTED = "DISPUTED"  # responded, reporter disputed: IN_PROGRESS, reopened once
    RESPONDED = "RESPONDED"
    RESPONDED_REPLY = "RESPONDED_REPLY"  # responded, reporter replied, staff followed up
    CLOSED_RATED = "CLOSED_RATED"
    CLOSED_UNRATED = "CLOSED_UNRATED"
    REOPENED_CLOSED = "REOPENED_CLOSED"  # disputed, answered again, accepted and rated


CONVERSATIONS = frozenset({Scenario.DISPUTED, Scenario.RESPONDED_REPLY, Scenario.REOPENED_CLOSED})
"""Scenarios whose reporter texts (disputes, replies) read right only under a COMPLAINT."""


def _plan(**counts: int) -> tuple[Scenario, ...]:
    return tuple(scenario for name, n in counts.items() for scenario in [Scenario(name)] * n)


PEMDA_PLAN = _plan(
    SUBMITTED=4,
    INFO_COMPLETED=1,
    NEEDS_INFO=2,
    ARCHIVED=3,
    VERIFIED=3,
    IN_PROGRESS=4,
    DISPUTED=1,
    RESPONDED=3,
    RESPONDED_REPLY=1,
    CLOSED_RATED=5,
    CLOSED_UNRATED=2,
    REOPENED_CLOSED=1,
)
"""30 complaints per regency or city."""
PROVINCE_PLAN = _plan(
    SUBMITTED=3,
    INFO_COMPLETED=1,
    NEEDS_INFO=2,
    ARCHIVED=3,
    VERIFIED=3,
    IN_PROGRESS=3,
    DISPUTED=1,
    RESPONDED=3,
    RESPONDED_REPLY=1,
    CLOSED_RATED=4,
    CLOSED_UNRATED=2,
    REOPENED_CLOSED=1,
)
"""27 complaints per province: 4 x 30 + 3 x 27 = 201 in the demo world."""
