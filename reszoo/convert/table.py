"""The weights table: every pytorchcv CIFAR-10/100 checkpoint reszoo builds, as data.

``ARCHITECTURES`` maps a pytorchcv architecture (its model name without the ``_cifar10`` /
``_cifar100`` suffix) to the reszoo family and build arguments that reproduce it, the name-mapping
scheme of ``reszoo.convert.mapping`` and the pytorchcv module that defines it (imported only to
build reference models in tests). Depths that pytorchcv counts differently map explicitly: its
RoR-3 ``ror3_56`` (6n+8, n=8) is reszoo's ``ror(base="resnet", depth=50, downsample="max_pool")``.

``CHECKPOINTS`` holds what pytorchcv 0.0.74 publishes about each checkpoint
(``pytorchcv/models/common/model_metainfos.csv``): trainable parameters, the test error as pytorchcv
codes it (hundredths of a percent, ``"0597"`` = 5.97 %), the SHA-1 of the ``.pth`` file and the
osmr/imgclsmob release holding it. Left out: pytorchcv models with no published CIFAR checkpoint
(``resnext20_*``, ``seresnet1001/1202``, ``sepreresnet1001/1202``, ``preresnet1202_cifar100``,
``densenet190_k40_bc_cifar100``), SVHN checkpoints, and architectures reszoo has no family for
(NIN, DIA-ResNet, RiR, FractalNet, MSDNet, X-DenseNet, 1-bit WRN).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Architecture(NamedTuple):
    """How reszoo builds one pytorchcv architecture."""

    family: str
    kwargs: dict[str, Any]
    scheme: str  # a key of reszoo.convert.mapping.SCHEMES
    module: str  # pytorchcv.models.<module> defines it


class Checkpoint(NamedTuple):
    """What pytorchcv publishes about one checkpoint."""

    params: int
    error_code: str
    sha1: str
    release: str


# fmt: off
ARCHITECTURES: dict[str, Architecture] = {
    "resnet20": Architecture("resnet", dict(depth=20, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet20": Architecture("preact_resnet", dict(depth=20, shortcut="B"), "preresnet", "preresnet_cifar"),
    "seresnet20": Architecture("resnet", dict(depth=20, shortcut="B", attention="se"), "resnet", "seresnet_cifar"),
    "sepreresnet20": Architecture("preact_resnet", dict(depth=20, shortcut="B", attention="se", stem="conv_bn_relu", head="none"), "sepreresnet", "sepreresnet_cifar"),
    "resnet56": Architecture("resnet", dict(depth=56, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet56": Architecture("preact_resnet", dict(depth=56, shortcut="B"), "preresnet", "preresnet_cifar"),
    "seresnet56": Architecture("resnet", dict(depth=56, shortcut="B", attention="se"), "resnet", "seresnet_cifar"),
    "sepreresnet56": Architecture("preact_resnet", dict(depth=56, shortcut="B", attention="se", stem="conv_bn_relu", head="none"), "sepreresnet", "sepreresnet_cifar"),
    "resnet110": Architecture("resnet", dict(depth=110, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet110": Architecture("preact_resnet", dict(depth=110, shortcut="B"), "preresnet", "preresnet_cifar"),
    "seresnet110": Architecture("resnet", dict(depth=110, shortcut="B", attention="se"), "resnet", "seresnet_cifar"),
    "sepreresnet110": Architecture("preact_resnet", dict(depth=110, shortcut="B", attention="se", stem="conv_bn_relu", head="none"), "sepreresnet", "sepreresnet_cifar"),
    "resnet1202": Architecture("resnet", dict(depth=1202, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet1202": Architecture("preact_resnet", dict(depth=1202, shortcut="B"), "preresnet", "preresnet_cifar"),
    "resnet164bn": Architecture("resnet", dict(depth=164, bottleneck=True, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet164bn": Architecture("preact_resnet", dict(depth=164, bottleneck=True, shortcut="B"), "preresnet", "preresnet_cifar"),
    "seresnet164bn": Architecture("resnet", dict(depth=164, bottleneck=True, shortcut="B", attention="se"), "resnet", "seresnet_cifar"),
    "sepreresnet164bn": Architecture("preact_resnet", dict(depth=164, bottleneck=True, shortcut="B", attention="se", stem="conv_bn_relu", head="none"), "sepreresnet", "sepreresnet_cifar"),
    "resnet272bn": Architecture("resnet", dict(depth=272, bottleneck=True, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet272bn": Architecture("preact_resnet", dict(depth=272, bottleneck=True, shortcut="B"), "preresnet", "preresnet_cifar"),
    "seresnet272bn": Architecture("resnet", dict(depth=272, bottleneck=True, shortcut="B", attention="se"), "resnet", "seresnet_cifar"),
    "sepreresnet272bn": Architecture("preact_resnet", dict(depth=272, bottleneck=True, shortcut="B", attention="se", stem="conv_bn_relu", head="none"), "sepreresnet", "sepreresnet_cifar"),
    "resnet542bn": Architecture("resnet", dict(depth=542, bottleneck=True, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet542bn": Architecture("preact_resnet", dict(depth=542, bottleneck=True, shortcut="B"), "preresnet", "preresnet_cifar"),
    "seresnet542bn": Architecture("resnet", dict(depth=542, bottleneck=True, shortcut="B", attention="se"), "resnet", "seresnet_cifar"),
    "sepreresnet542bn": Architecture("preact_resnet", dict(depth=542, bottleneck=True, shortcut="B", attention="se", stem="conv_bn_relu", head="none"), "sepreresnet", "sepreresnet_cifar"),
    "resnet1001": Architecture("resnet", dict(depth=1001, bottleneck=True, shortcut="B"), "resnet", "resnet_cifar"),
    "preresnet1001": Architecture("preact_resnet", dict(depth=1001, bottleneck=True, shortcut="B"), "preresnet", "preresnet_cifar"),
    "wrn16_10": Architecture("wrn", dict(depth=16, width=10), "preresnet", "wrn_cifar"),
    "wrn28_10": Architecture("wrn", dict(depth=28, width=10), "preresnet", "wrn_cifar"),
    "wrn40_8": Architecture("wrn", dict(depth=40, width=8), "preresnet", "wrn_cifar"),
    "pyramidnet110_a48": Architecture("pyramidnet", dict(depth=110, alpha=48), "pyramidnet", "pyramidnet_cifar"),
    "pyramidnet110_a84": Architecture("pyramidnet", dict(depth=110, alpha=84), "pyramidnet", "pyramidnet_cifar"),
    "pyramidnet110_a270": Architecture("pyramidnet", dict(depth=110, alpha=270), "pyramidnet", "pyramidnet_cifar"),
    "pyramidnet164_a270_bn": Architecture("pyramidnet", dict(depth=164, alpha=270, bottleneck=True), "pyramidnet", "pyramidnet_cifar"),
    "pyramidnet200_a240_bn": Architecture("pyramidnet", dict(depth=200, alpha=240, bottleneck=True), "pyramidnet", "pyramidnet_cifar"),
    "pyramidnet236_a220_bn": Architecture("pyramidnet", dict(depth=236, alpha=220, bottleneck=True), "pyramidnet", "pyramidnet_cifar"),
    "pyramidnet272_a200_bn": Architecture("pyramidnet", dict(depth=272, alpha=200, bottleneck=True), "pyramidnet", "pyramidnet_cifar"),
    "densenet40_k12": Architecture("densenet", dict(depth=40, growth_rate=12, compression=0.5), "densenet", "densenet_cifar"),
    "densenet100_k12": Architecture("densenet", dict(depth=100, growth_rate=12, compression=0.5), "densenet", "densenet_cifar"),
    "densenet100_k24": Architecture("densenet", dict(depth=100, growth_rate=24, compression=0.5), "densenet", "densenet_cifar"),
    "densenet40_k12_bc": Architecture("densenet", dict(depth=40, growth_rate=12, bottleneck=True, compression=0.5), "densenet", "densenet_cifar"),
    "densenet40_k24_bc": Architecture("densenet", dict(depth=40, growth_rate=24, bottleneck=True, compression=0.5), "densenet", "densenet_cifar"),
    "densenet40_k36_bc": Architecture("densenet", dict(depth=40, growth_rate=36, bottleneck=True, compression=0.5), "densenet", "densenet_cifar"),
    "densenet100_k12_bc": Architecture("densenet", dict(depth=100, growth_rate=12, bottleneck=True, compression=0.5), "densenet", "densenet_cifar"),
    "densenet190_k40_bc": Architecture("densenet", dict(depth=190, growth_rate=40, bottleneck=True, compression=0.5), "densenet", "densenet_cifar"),
    "densenet250_k24_bc": Architecture("densenet", dict(depth=250, growth_rate=24, bottleneck=True, compression=0.5), "densenet", "densenet_cifar"),
    "resnext29_32x4d": Architecture("resnext", dict(depth=29, cardinality=32, bottleneck_width=4), "resnext", "resnext_cifar"),
    "resnext29_16x64d": Architecture("resnext", dict(depth=29, cardinality=16, bottleneck_width=64), "resnext", "resnext_cifar"),
    "resnext272_1x64d": Architecture("resnext", dict(depth=272, cardinality=1, bottleneck_width=64), "resnext", "resnext_cifar"),
    "resnext272_2x32d": Architecture("resnext", dict(depth=272, cardinality=2, bottleneck_width=32), "resnext", "resnext_cifar"),
    "ror3_56": Architecture("ror", dict(base="resnet", depth=50, levels=3, downsample="max_pool"), "ror", "ror_cifar"),
    "ror3_110": Architecture("ror", dict(base="resnet", depth=104, levels=3, downsample="max_pool"), "ror", "ror_cifar"),
    "ror3_164": Architecture("ror", dict(base="resnet", depth=158, levels=3, downsample="max_pool"), "ror", "ror_cifar"),
    "shakeshakeresnet20_2x16d": Architecture("shake_shake", dict(depth=20, width=16, unit="post"), "shakeshake", "shakeshakeresnet_cifar"),
    "shakeshakeresnet26_2x32d": Architecture("shake_shake", dict(depth=26, width=32, unit="post"), "shakeshake", "shakeshakeresnet_cifar"),
}

CHECKPOINTS: dict[str, Checkpoint] = {
    "resnet20_cifar10": Checkpoint(272474, "0597", "9b0024ac4c2f374cde2c5052e0d0344a75871cdb", "v0.0.163"),
    "resnet20_cifar100": Checkpoint(278324, "2964", "a5322afed92fa96cb7b3453106f73cf38e316151", "v0.0.180"),
    "preresnet20_cifar10": Checkpoint(272282, "0651", "76cec68d11de5b25be2ea5935681645b76195f1d", "v0.0.164"),
    "preresnet20_cifar100": Checkpoint(278132, "3022", "3dbfa6a2b850572bccb28cc2477a0e46c24abcb8", "v0.0.187"),
    "seresnet20_cifar10": Checkpoint(274847, "0601", "935d89433e803c8a3027c81f1267401e7caccce6", "v0.0.362"),
    "seresnet20_cifar100": Checkpoint(280697, "2854", "8c7abf66d8c1418cb3ca760f5d1efbb42738036b", "v0.0.362"),
    "sepreresnet20_cifar10": Checkpoint(274559, "0618", "eabb3fce8373cbeb412ced9a79a1e2f9c6c3689c", "v0.0.379"),
    "sepreresnet20_cifar100": Checkpoint(280409, "2831", "fe7558e0ae554d39d8761f234e8328262ee31efd", "v0.0.379"),
    "resnet56_cifar10": Checkpoint(855770, "0452", "628c42a26fe347b84060136212e018df2bb35e0f", "v0.0.163"),
    "resnet56_cifar100": Checkpoint(861620, "2488", "d65f53b10ad5d124698e728432844c65261c3107", "v0.0.181"),
    "preresnet56_cifar10": Checkpoint(855578, "0449", "e9124fcf167d8ca50addef00c3afa4da9f828f29", "v0.0.164"),
    "preresnet56_cifar100": Checkpoint(861428, "2505", "ca90a2be6002cd378769b9d4e7c497dd883d31d9", "v0.0.188"),
    "seresnet56_cifar10": Checkpoint(862889, "0413", "b61c143989cb2901bec48dded4c6ddcae91aabc4", "v0.0.362"),
    "seresnet56_cifar100": Checkpoint(868739, "2294", "7fa54f4593f364c2363cb3ee8d5bc1285af1ade5", "v0.0.362"),
    "sepreresnet56_cifar10": Checkpoint(862601, "0451", "fc23e153ccfaddd52de61d77570a0befeee1e687", "v0.0.379"),
    "sepreresnet56_cifar100": Checkpoint(868451, "2305", "c4bdc5d7bbaa0d9f6e2ffdf2abe4808ad26d0f66", "v0.0.379"),
    "resnet110_cifar10": Checkpoint(1730714, "0369", "4d6ca1fc02eaeed724f4f596011e391528536049", "v0.0.163"),
    "resnet110_cifar100": Checkpoint(1736564, "2280", "d8d397a767db6d22af040223ec8ae342a088c3e5", "v0.0.190"),
    "preresnet110_cifar10": Checkpoint(1730522, "0386", "cc08946a2126a1224d1d2560a47cf766a763c52c", "v0.0.164"),
    "preresnet110_cifar100": Checkpoint(1736372, "2267", "3954e91581b7f3e5f689385d15f618fe16e995af", "v0.0.191"),
    "seresnet110_cifar10": Checkpoint(1744952, "0363", "1ddec2309ff61c2c0e14c96d51a1b846afdc2acc", "v0.0.362"),
    "seresnet110_cifar100": Checkpoint(1750802, "2086", "a82c30938028a172dd6a124152bc0952b55a2f49", "v0.0.362"),
    "sepreresnet110_cifar10": Checkpoint(1744664, "0454", "418daea9d2253a3e9fbe4eb80eb4dcc6f29d5925", "v0.0.379"),
    "sepreresnet110_cifar100": Checkpoint(1750514, "2261", "ed7d3c3e51ed2ea9a827ed942e131c78784813b7", "v0.0.379"),
    "resnet1202_cifar10": Checkpoint(19424026, "0353", "1d5a21290117903fb5fd6ba59f3f7e7da7c08836", "v0.0.214"),
    "resnet1202_cifar100": Checkpoint(19429876, "2156", "86ecd091e5ac9677bf4518c644d08eb3e1d1708a", "v0.0.410"),
    "preresnet1202_cifar10": Checkpoint(19423834, "0339", "6fc686b02191226f39e25a76fc5da26857f7acd9", "v0.0.246"),
    "resnet164bn_cifar10": Checkpoint(1704154, "0368", "74ae9f4bccb7fb6a8f3f603fdabe8d8632c46b2f", "v0.0.179"),
    "resnet164bn_cifar100": Checkpoint(1727284, "2044", "8fa07b7264a075fa5add58f4c676b99a98fb1c89", "v0.0.182"),
    "preresnet164bn_cifar10": Checkpoint(1703258, "0364", "429012d412e82df7961fa071f97c938530e1b005", "v0.0.196"),
    "preresnet164bn_cifar100": Checkpoint(1726388, "2018", "a8e67ca6e14f88b009d618b0e9b554312d862174", "v0.0.192"),
    "seresnet164bn_cifar10": Checkpoint(1906258, "0339", "1085dab6467cb18e554123663816094f080fc626", "v0.0.362"),
    "seresnet164bn_cifar100": Checkpoint(1929388, "1995", "97dd4ab630f6277cf7b07cbdcbf4ae8ddce4d401", "v0.0.362"),
    "sepreresnet164bn_cifar10": Checkpoint(1904882, "0373", "ff353a2910f85db66d8afca0a4150176bcdc7a69", "v0.0.379"),
    "sepreresnet164bn_cifar100": Checkpoint(1928012, "2005", "df1163c4d9de72c53efc37758773cc943be7f055", "v0.0.379"),
    "resnet272bn_cifar10": Checkpoint(2816986, "0333", "84f28e0ca97eaeae0eb07e9f76054c1ba0c77c0e", "v0.0.368"),
    "resnet272bn_cifar100": Checkpoint(2840116, "2007", "a80d2b3ce14de6c90bf22d210d76ebd4a8c91928", "v0.0.368"),
    "preresnet272bn_cifar10": Checkpoint(2816090, "0325", "1a6a016eb4e4a5549c1fcb89ed5af4c1e5715b72", "v0.0.389"),
    "preresnet272bn_cifar100": Checkpoint(2839220, "1963", "6fe0d2e24a60d12ab6b3d0e46065e2f14a46bc0b", "v0.0.389"),
    "seresnet272bn_cifar10": Checkpoint(3153826, "0339", "812db5187bab9aa5203611c1c174d0e51c81761c", "v0.0.390"),
    "seresnet272bn_cifar100": Checkpoint(3176956, "1907", "179e1c38ba714e1babf6c764ca735f256d4cd122", "v0.0.390"),
    "sepreresnet272bn_cifar10": Checkpoint(3152450, "0339", "606d096422394857cb1f45ecd7eed13508158a60", "v0.0.379"),
    "sepreresnet272bn_cifar100": Checkpoint(3175580, "1913", "cb71511346e441cbd36bacc93c821e8b6101456a", "v0.0.379"),
    "resnet542bn_cifar10": Checkpoint(5599066, "0343", "0fd36dd16587f49d33e0e36f1e8596d021a11439", "v0.0.369"),
    "resnet542bn_cifar100": Checkpoint(5622196, "1932", "a631d3ce5f12e145637a7b2faee663cddc94c354", "v0.0.369"),
    "preresnet542bn_cifar10": Checkpoint(5598170, "0314", "66fd6f2033dff08428e586bcce3e5151ed4274f9", "v0.0.391"),
    "preresnet542bn_cifar100": Checkpoint(5621300, "1871", "07f1fb258207d295789981519e8dab892fc08f8d", "v0.0.391"),
    "seresnet542bn_cifar10": Checkpoint(6272746, "0347", "d1542214765f1923f2fdce810aef5dc2e523ffd2", "v0.0.385"),
    "seresnet542bn_cifar100": Checkpoint(6295876, "1887", "9c4e7623dc06a56edabf04f4427286916843df85", "v0.0.385"),
    "sepreresnet542bn_cifar10": Checkpoint(6271370, "0308", "652bc8846cfac7a2ec6625789531897339800202", "v0.0.382"),
    "sepreresnet542bn_cifar100": Checkpoint(6294500, "1945", "9180f8632657bb8f7b6583e47d04ce85defa956c", "v0.0.382"),
    "resnet1001_cifar10": Checkpoint(10328602, "0328", "77a179e240808b7aa3534230d39b845a62413ca2", "v0.0.201"),
    "resnet1001_cifar100": Checkpoint(10351732, "1979", "2728b558748f9c3e70db179afb6c62358020858b", "v0.0.254"),
    "preresnet1001_cifar10": Checkpoint(10327706, "0265", "9fedfe5fd643e7355f1062a6db68da310c8962be", "v0.0.209"),
    "preresnet1001_cifar100": Checkpoint(10350836, "1841", "88f14ed9df1573e98b0ec2a07009a15066855fda", "v0.0.283"),
    "wrn16_10_cifar10": Checkpoint(17116634, "0293", "ce810d8a17a2deb73eddb5bec8709f93278bc53e", "v0.0.166"),
    "wrn16_10_cifar100": Checkpoint(17174324, "1895", "bef9809c845deb1b2bb0c9aaaa7c58bd97740504", "v0.0.204"),
    "wrn28_10_cifar10": Checkpoint(36479194, "0239", "fe97dcd6d0dd8dda8e9e38e6cfa320cffb9955ce", "v0.0.166"),
    "wrn28_10_cifar100": Checkpoint(36536884, "1788", "8c3fe8185d3af9cc3813fe376cab895f6780ac18", "v0.0.320"),
    "wrn40_8_cifar10": Checkpoint(35748314, "0237", "8dc84ec730f35c4b8968a022bc045c0665410840", "v0.0.166"),
    "wrn40_8_cifar100": Checkpoint(35794484, "1803", "0d18bfbff85951d88a881dc6a15ad46f56ea8c28", "v0.0.321"),
    "pyramidnet110_a48_cifar10": Checkpoint(1772706, "0372", "eb185645cda89e0c3c47b11c4b2d14ff18fa0ae1", "v0.0.184"),
    "pyramidnet110_a48_cifar100": Checkpoint(1778556, "2095", "95da1a209916b3cf4af7e8dc44374345a88c60f4", "v0.0.186"),
    "pyramidnet110_a84_cifar10": Checkpoint(3904446, "0298", "7b835a3cf19794478d478aced63ca9e855c3ffeb", "v0.0.185"),
    "pyramidnet110_a84_cifar100": Checkpoint(3913536, "1887", "ff711084381f217f84646c676e4dcc90269dc516", "v0.0.199"),
    "pyramidnet110_a270_cifar10": Checkpoint(28485477, "0251", "31bdd9d51ec01388cbb2adfb9f822c942de3c4ff", "v0.0.194"),
    "pyramidnet110_a270_cifar100": Checkpoint(28511307, "1710", "7417dd99069d6c8775454475968ae226b9d5ac83", "v0.0.319"),
    "pyramidnet164_a270_bn_cifar10": Checkpoint(27216021, "0242", "daa2a402c1081323b8f2239f2201246953774e84", "v0.0.264"),
    "pyramidnet164_a270_bn_cifar100": Checkpoint(27319071, "1670", "54d99c834bee0ed7402ba46e749e48182ad1599a", "v0.0.312"),
    "pyramidnet200_a240_bn_cifar10": Checkpoint(26752702, "0244", "44433afdd2bc32c55dfb1e8347bc44d1c2bf82c7", "v0.0.268"),
    "pyramidnet200_a240_bn_cifar100": Checkpoint(26844952, "1609", "087c02d6882e274054f44482060f193b9fc208bb", "v0.0.317"),
    "pyramidnet236_a220_bn_cifar10": Checkpoint(26969046, "0247", "daa91d74979c451ecdd8b59e4350382966f25831", "v0.0.285"),
    "pyramidnet236_a220_bn_cifar100": Checkpoint(27054096, "1634", "a45816ebe1d6a67468b78b7a93334a41aca1c64b", "v0.0.312"),
    "pyramidnet272_a200_bn_cifar10": Checkpoint(26210842, "0239", "586b1ecdc8b34b69dcae4ba57f71c24583cca9b1", "v0.0.284"),
    "pyramidnet272_a200_bn_cifar100": Checkpoint(26288692, "1619", "98bc2f48da0f2c68bc5376c17b0aefc734a64881", "v0.0.312"),
    "densenet40_k12_cifar10": Checkpoint(599050, "0561", "8b8e819467a2e4c450e4ff72ced80582d0628b68", "v0.0.193"),
    "densenet40_k12_cifar100": Checkpoint(622360, "2490", "d182c224d6df2e289eef944d54fea9fd04890961", "v0.0.195"),
    "densenet100_k12_cifar10": Checkpoint(4068490, "0366", "26089c6e70236e8f25359de6fda67b84425888ab", "v0.0.205"),
    "densenet100_k12_cifar100": Checkpoint(4129600, "1964", "5e10cd830c06f6ab178e9dd876c83c754ca63f00", "v0.0.206"),
    "densenet100_k24_cifar10": Checkpoint(16114138, "0313", "397f0e39b517c05330221d4f3a9755eb5e561be1", "v0.0.252"),
    "densenet100_k24_cifar100": Checkpoint(16236268, "1808", "1c0a8067283952709d8e09c774c3a404f51e0079", "v0.0.318"),
    "densenet40_k12_bc_cifar10": Checkpoint(176122, "0643", "6dc86a2ea1d088f088462f5cbac06cc0f37348c0", "v0.0.231"),
    "densenet40_k12_bc_cifar100": Checkpoint(188092, "2841", "1e9db7651a21e807c363c9f366bd9e91ce2f296f", "v0.0.232"),
    "densenet40_k24_bc_cifar10": Checkpoint(690346, "0452", "669c525548a4a2392c5e3c380936ad019f2be7f9", "v0.0.220"),
    "densenet40_k24_bc_cifar100": Checkpoint(714196, "2267", "411719c0177abf58eddaddd05511c86db0c9d548", "v0.0.221"),
    "densenet40_k36_bc_cifar10": Checkpoint(1542682, "0404", "b1a4cc7e67db1ed8c5583a59dc178cc7dc2c572e", "v0.0.224"),
    "densenet40_k36_bc_cifar100": Checkpoint(1578412, "2050", "cde836fafec1e5d6c8ed69fd3cfe322e8e71ef1d", "v0.0.225"),
    "densenet100_k12_bc_cifar10": Checkpoint(769162, "0416", "b9232829b13c3f3f2ea15f4be97f500b7912c3c2", "v0.0.189"),
    "densenet100_k12_bc_cifar100": Checkpoint(800032, "2119", "05a6f02772afda51a612f5b92aadf19ffb60eb72", "v0.0.208"),
    "densenet190_k40_bc_cifar10": Checkpoint(25624430, "0252", "2896fa088aeaef36fcf395d404d97ff172d78943", "v0.0.286"),
    "densenet250_k24_bc_cifar10": Checkpoint(15324406, "0267", "f8f9d3052bae1fea7e33bb1ce143c38b4aa5622b", "v0.0.290"),
    "densenet250_k24_bc_cifar100": Checkpoint(15480556, "1739", "09ac3e7d9fbe6b97b170bd838dac20ec144b4e49", "v0.0.303"),
    "resnext29_32x4d_cifar10": Checkpoint(4775754, "0315", "30413525cd4466dbef759294eda9b702bc39648f", "v0.0.169"),
    "resnext29_32x4d_cifar100": Checkpoint(4868004, "1950", "13ba13d92f6751022549a3b370ae86d3b13ae2d1", "v0.0.200"),
    "resnext29_16x64d_cifar10": Checkpoint(68155210, "0241", "4133d3d04f9b10b132dcb959601d36f10123f8c2", "v0.0.176"),
    "resnext29_16x64d_cifar100": Checkpoint(68247460, "1693", "05e9a7f113099a98b219cad622ecfad5517a3b54", "v0.0.322"),
    "resnext272_1x64d_cifar10": Checkpoint(44540746, "0255", "070ccc35c2841b7715b9eb271197c9bb316f3093", "v0.0.372"),
    "resnext272_1x64d_cifar100": Checkpoint(44632996, "1911", "114eb0f8a0d471487e819b8fd156c1286ef91b7a", "v0.0.372"),
    "resnext272_2x32d_cifar10": Checkpoint(32928586, "0274", "d2ace03c413be7e42c839c84db8dd0ebb5d69512", "v0.0.375"),
    "resnext272_2x32d_cifar100": Checkpoint(33020836, "1834", "0b30c4701a719995412882409339f3553a54c9d1", "v0.0.375"),
    "ror3_56_cifar10": Checkpoint(762746, "0543", "44f0f47d2e1b609880ee1b623014c52a9276e2ea", "v0.0.228"),
    "ror3_56_cifar100": Checkpoint(768596, "2549", "34be6719cd128cfe60ba93ac6d250ac4c1acf0a5", "v0.0.229"),
    "ror3_110_cifar10": Checkpoint(1637690, "0435", "fb2a2b0499e4a4d92bdc1d6792bd5572256d5165", "v0.0.235"),
    "ror3_110_cifar100": Checkpoint(1643540, "2364", "d599e3a93cd960c8bfc5d05c721cd48fece5fa6f", "v0.0.236"),
    "ror3_164_cifar10": Checkpoint(2512634, "0393", "de7b6dc60ad6a297bd55ab65b6d7b1225b0ef6d1", "v0.0.294"),
    "ror3_164_cifar100": Checkpoint(2518484, "2234", "d37483fccc7fc1a25ff90ef05ecf1b8eab3cc1c4", "v0.0.294"),
    "shakeshakeresnet20_2x16d_cifar10": Checkpoint(541082, "0515", "ef71ec0d5ef928ef8654294114a013895abe3f9a", "v0.0.215"),
    "shakeshakeresnet20_2x16d_cifar100": Checkpoint(546932, "2922", "4d07f14234b1c796b3c1dfb24d4a3220a1b6b293", "v0.0.247"),
    "shakeshakeresnet26_2x32d_cifar10": Checkpoint(2923162, "0317", "ecd1f8337cc90b5378b4217fb2591f2ed0f02bdf", "v0.0.217"),
    "shakeshakeresnet26_2x32d_cifar100": Checkpoint(2934772, "1880", "b47e371f60c9fed9eaac960568783fb6f83a362f", "v0.0.222"),
}
# fmt: on
