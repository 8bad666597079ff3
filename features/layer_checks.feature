# language: zh-CN
@chapter:layer_checks
功能: 分层清单的检查 — 覆盖、删减和继承的错误在启用前发现 (Checking layered lists)
  县(市、区)清单继承省级目录时, 下列错误使清单被拒绝(不会替换正在使用的清单), 并指明文件、行、条款和原因:
  覆盖不存在的条款、删减不存在的条款、删减后仍被引用、继承形成循环、未声明覆盖而重新定义省级条款、覆盖不可覆盖的字段。

  场景大纲: 有错误的县级清单被拒绝
    当检查分层清单"<目录>"
    那么检查发现"<错误>"
    而且发现位于文件"<文件>"
    而且发现的提示包含"<提示>"

    例子:
      | 目录               | 错误               | 文件               | 提示                         |
      | override-missing   | override_missing   | policy.yaml        | did you mean `M-01`          |
      | removal-missing    | removal_missing    | policy.yaml        | did you mean `M-02`          |
      | removal-referenced | removal_referenced | @mini/rules.yaml   | remove or override `R-01`    |
      | cycle-a            | extends_cycle      | policy.yaml        | must not extend              |
      | shadowing          | shadowing          | policy.yaml        | under `overrides:`           |
      | override-field     | override_field     | policy.yaml        | fields that can be overridden |
      | extends-missing    | extends_missing    | policy.yaml        | did you mean `mini`          |

  场景: 正确的县级清单通过检查, 每个条款说明来自哪一层
    当检查分层清单"good"
    那么检查没有发现
    而且条款"M-01"来自"mini"层并被"good"层覆盖
    而且条款"M-02"已被"good"层删减
