# language: zh-CN
@chapter:bad_input
功能: 错误输入得到清楚的 4xx 答复 (Bad input gets a clear 4xx)
  其他系统(12345、四平台)调用接口时, 错误输入不会被静默忽略, 而是返回错误代码、出错字段和提示。

  场景: 未知事项, 提示最接近的事项编号
    当通过接口提交案件:
      """
      {"matter": "WAT-1", "township": "gaojia"}
      """
    那么返回状态422, 错误代码为"unknown_matter"
    而且错误字段为"matter"
    而且错误提示包含"WAT-01"

  场景: 用中文名称代替乡镇编号, 提示应使用的编号
    当通过接口提交案件:
      """
      {"matter": "WAT-01", "township": "高家镇"}
      """
    那么返回状态422, 错误代码为"unknown_township"
    而且错误提示包含"gaojia"

  场景: 未声明的案件属性
    当通过接口提交案件:
      """
      {"matter": "WAT-01", "township": "gaojia", "attributes": {"site": "river"}}
      """
    那么返回状态422, 错误代码为"unknown_attribute"
    而且错误提示包含"site_type"

  场景: 不在允许范围内的属性值
    当通过接口提交案件:
      """
      {"matter": "WAT-01", "township": "gaojia", "attributes": {"site_type": "lake"}}
      """
    那么返回状态422, 错误代码为"value_not_allowed"
    而且错误字段为"attributes.site_type"

  场景: 数值属性传入字符串
    当通过接口提交案件:
      """
      {"matter": "WAT-01", "township": "gaojia", "attributes": {"severity": "4"}}
      """
    那么返回状态422, 错误代码为"wrong_type"

  场景: 缺少必填字段
    当通过接口提交案件:
      """
      {"matter": "WAT-01"}
      """
    那么返回状态422, 错误代码为"missing_field"
    而且错误字段为"township"

  场景: 请求体不是合法 JSON
    当通过接口提交案件:
      """
      {"matter": "WAT-01",
      """
    那么返回状态400, 错误代码为"malformed_json"
