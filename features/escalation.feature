# language: zh-CN
@chapter:escalation
功能: 升级处置与跨乡镇协调 (Escalation and cross-township cases)
  重大险情或伤亡吹响"应急哨", 由区应急管理局统筹; 跨乡镇(街道)的现场牵头单位不变,
  由区社会治理中心协调, 两地乡镇(街道)配合。

  背景:
    假如使用衢江区示例政策

  @rule:ESC-SEVERE
  场景: 严重程度 4 的采砂事件升级为应急处置
    假如案件事项为"WAT-01"
    而且案件发生在"高家镇"
    而且案件属性"site_type"为"river"
    而且案件属性"severity"为"4"
    当判定牵头单位
    那么牵头单位为"衢江区应急管理局"
    而且适用规则为"ESC-SEVERE"
    而且协调单位为"衢江区社会治理中心"
    而且时限"sign"为"30min"
    而且规则"YJS-SAND-RIVER"的判定为"lost"

  @rule:AMD-CROSS-TOWNSHIP
  场景: 跨乡镇的河道采砂, 牵头不变, 社会治理中心协调, 两地配合
    假如案件事项为"WAT-01"
    而且案件发生在"高家镇"
    而且案件属性"site_type"为"river"
    而且案件属性"cross_township"为"true"
    而且案件属性"other_township"为"樟潭街道"
    当判定牵头单位
    那么牵头单位为"衢江区水利局"
    而且协调单位为"衢江区社会治理中心"
    而且配合单位包括"高家镇、樟潭街道"
    而且规则"AMD-CROSS-TOWNSHIP"的判定为"applied"
