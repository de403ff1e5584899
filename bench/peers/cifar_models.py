#!/usr/bin/python3
# cifar_models.py: PyTorch twins of sprint's CIFAR speed-run models (comparison only; sprint never depends on
# Python), with state_dict names equal to sprint's parameter paths:
#   Airbench94: the net of KellerJordan/cifar10-airbench legacy/airbench94.py (whitening conv 2x2, GELU, conv
#     groups 64/256/256 with BatchNorm eps 1e-12, momentum 0.4, scale frozen; MaxPool 3; linear without bias; x 1/9).
#   ResNet9: cifar10-fast's ResNet-9 (davidcpage/cifar10-fast, dawn_utils.net()).
#   VGG16: VGG-16 with BatchNorm for 32x32 inputs, one linear layer.
# Run as a script it prints the parameter counts (frozen parameters included) that sprint's tests check.
import torch
from torch import nn


class Mul(nn.Module):
    def __init__(self, scale):
        super().__init__()
        self.scale = scale

    def forward(self, x):
        return x * self.scale


class AirbenchNorm(nn.BatchNorm2d):
    def __init__(self, features):
        super().__init__(features, eps=1e-12, momentum=0.4)  # airbench's momentum 0.6 in its own convention
        self.weight.requires_grad = False


class AirbenchConv(nn.Conv2d):
    def __init__(self, cin, cout, kernel=3, padding="same", bias=False):
        super().__init__(cin, cout, kernel_size=kernel, padding=padding, bias=bias)

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            self.bias.data.zero_()
        w = self.weight.data
        torch.nn.init.dirac_(w[: w.size(1)])


class AirbenchGroup(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv1 = AirbenchConv(cin, cout)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = AirbenchNorm(cout)
        self.conv2 = AirbenchConv(cout, cout)
        self.norm2 = AirbenchNorm(cout)
        self.activ = nn.GELU()

    def forward(self, x):
        x = self.activ(self.norm1(self.pool(self.conv1(x))))
        return self.activ(self.norm2(self.conv2(x)))


def Airbench94(classes=10):
    net = nn.Sequential(
        AirbenchConv(3, 24, kernel=2, padding=0, bias=True), nn.GELU(),
        AirbenchGroup(24, 64), AirbenchGroup(64, 256), AirbenchGroup(256, 256),
        nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, classes, bias=False), Mul(1 / 9))
    net[0].weight.requires_grad = False
    return net


def conv_bn(cin, cout):
    return nn.Sequential(
        dict_module(conv=nn.Conv2d(cin, cout, 3, padding=1, bias=False), bn=nn.BatchNorm2d(cout), relu=nn.ReLU()))


def dict_module(**modules):
    from collections import OrderedDict
    return OrderedDict(modules)


class Residual(nn.Module):
    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return x + self.body(x)


def resnet9_layer(cin, cout, residual):
    layer = conv_bn(cin, cout)
    layer.add_module("pool", nn.MaxPool2d(2))
    if residual:
        layer.add_module("residual", Residual(nn.Sequential(dict_module(res1=conv_bn(cout, cout),
                                                                        res2=conv_bn(cout, cout)))))
    return layer


def ResNet9(classes=10):
    return nn.Sequential(dict_module(
        prep=conv_bn(3, 64), layer1=resnet9_layer(64, 128, True), layer2=resnet9_layer(128, 256, False),
        layer3=resnet9_layer(256, 512, True), pool=nn.MaxPool2d(4), flatten=nn.Flatten(),
        linear=nn.Linear(512, classes, bias=False), logits=Mul(0.125)))


def VGG16(classes=10):
    layers, cin = [], 3
    for group in ([64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]):
        for width in group:
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            cin = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(dict_module(features=nn.Sequential(*layers), flatten=nn.Flatten(),
                                     classifier=nn.Linear(512, classes)))


MODELS = {"airbench94": Airbench94, "resnet9": ResNet9, "vgg16": VGG16}

if __name__ == "__main__":
    for name, make in MODELS.items():
        net = make()
        total = sum(p.numel() for p in net.parameters())
        trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
        assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
        print(f"{name}: {total} parameters ({trainable} trainable); first names: {list(net.state_dict())[:4]}")
